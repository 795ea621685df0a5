#!/usr/bin/env bash
# Builds bin/asr-server_<version>_<arch>.deb from the binaries in bin/ and
# the files in packaging/. Runs where libwhisper is installed (the build
# root), since Depends is read off the libraries asr-worker links.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=${VERSION:-0.1.0}
ARCH=$(dpkg --print-architecture)
stage=build/deb/asr-server
rm -rf "$stage"
install -d "$stage/DEBIAN" "$stage/usr/bin" "$stage/usr/lib/systemd/system" \
	"$stage/usr/lib/sysusers.d" "$stage/usr/lib/tmpfiles.d" "$stage/etc/asr" \
	"$stage/usr/share/doc/asr-server"
# Stripped of symbols and debug data like every Debian binary; Go keeps
# what it needs for stack traces.
for bin in asr-api asr-worker asrctl asr-autoscaler; do
	install -m 0755 "bin/$bin" "$stage/usr/bin/"
	strip --strip-unneeded --remove-section=.comment --remove-section=.note \
		"$stage/usr/bin/$bin"
done
install -m 0644 packaging/systemd/* "$stage/usr/lib/systemd/system/"
install -m 0644 packaging/deb/asr-server.sysusers "$stage/usr/lib/sysusers.d/asr-server.conf"
install -m 0644 packaging/deb/asr-server.tmpfiles "$stage/usr/lib/tmpfiles.d/asr-server.conf"
install -m 0644 config.toml "$stage/etc/asr/config.toml"
install -m 0644 README.md "$stage/usr/share/doc/asr-server/README.md"
install -m 0644 packaging/deb/copyright "$stage/usr/share/doc/asr-server/copyright"
for page in packaging/man/*.[18]; do
	section=${page##*.}
	install -d "$stage/usr/share/man/man$section"
	gzip -9n <"$page" >"$stage/usr/share/man/man$section/$(basename "$page").gz"
done
install -D -m 0644 packaging/deb/lintian-overrides \
	"$stage/usr/share/lintian/overrides/asr-server"
{
	printf 'asr-server (%s) unstable; urgency=medium\n\n' "$VERSION"
	printf '  * Release %s; see /usr/share/doc/asr-server/README.md.\n\n' "$VERSION"
	printf ' -- asr-server maintainers <maintainers@asr-server.invalid>  %s\n' \
		"$(date -R -d "@${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}")"
} | gzip -9n >"$stage/usr/share/doc/asr-server/changelog.gz"
install -m 0755 packaging/deb/postinst packaging/deb/prerm packaging/deb/postrm "$stage/DEBIAN/"
echo /etc/asr/config.toml >"$stage/DEBIAN/conffiles"

# Depends: the package of every library asr-worker links, at least the
# version installed here.
depends=()
for lib in $(objdump -p bin/asr-worker | awk '/NEEDED/ {print $2}'); do
	path=$(ldconfig -p | awk -v l="$lib" '$1 == l {print $NF; exit}')
	[[ -n $path ]] || continue
	pkg=$(dpkg -S "$(readlink -f "$path")" 2>/dev/null | head -1 | cut -d: -f1) || true
	[[ -n $pkg ]] || continue
	ver=$(dpkg-query -W -f '${Version}' "$pkg")
	depends+=("$pkg (>= ${ver%%-*})")
done
deps=$(printf '%s\n' "${depends[@]}" systemd | sort -u | paste -sd, | sed 's/,/, /g')

cat >"$stage/DEBIAN/control" <<CONTROL
Package: asr-server
Version: $VERSION
Architecture: $ARCH
Maintainer: asr-server maintainers <maintainers@asr-server.invalid>
Section: sound
Priority: optional
Depends: $deps
Static-Built-Using: $(dpkg-query -W -f '${source:Package} (= ${source:Version})' golang-go)
Recommends: redis-server, ffmpeg
Installed-Size: $(du -sk "$stage" | cut -f1)
Description: self-hosted speech-to-text service with a Redis job queue
 asr-api accepts audio over HTTP (including OpenAI-compatible calls) and
 queues jobs in Redis; asr-worker@N instances transcribe them with
 whisper.cpp. Scale with systemctl start asr-worker@{1..8}.
CONTROL
out=bin/asr-server_${VERSION}_${ARCH}.deb
dpkg-deb --root-owner-group --build "$stage" "$out" >/dev/null
# lintian, where installed (the build root has it), must find no errors.
if command -v lintian >/dev/null; then
	lintian --fail-on error --color never "$out" >&2
fi
echo "$out"
