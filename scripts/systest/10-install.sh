# Installs the package as an operator would, with apt, which pulls its
# dependencies (libwhisper1, libggml0) and recommends (redis-server, ffmpeg).
for pkg in asr-server libwhisper1 libggml0 redis-server ffmpeg; do
	if dpkg-query -W -f '${Status}' "$pkg" 2>/dev/null | grep 'ok installed' >/dev/null; then
		fail "$pkg is installed before the test installs anything"
	fi
done
apt_install /st/asr-server.deb
for pkg in asr-server libwhisper1 libggml0 redis-server ffmpeg; do
	dpkg-query -W -f '${Status}' "$pkg" | grep 'ok installed' >/dev/null ||
		fail "apt install left $pkg uninstalled"
done
getent passwd asr >/dev/null || fail "no asr user"
[[ $(stat -c %U:%a /var/lib/asr/models) == asr:755 ]] || fail "/var/lib/asr/models"
systemctl is-active --quiet redis-server || fail "redis-server not active"
systemctl is-active --quiet asr-api || fail "asr-api not active after install"
systemctl is-enabled --quiet asr-worker@1 || fail "asr-worker@1 not enabled"
pass "apt install pulled libwhisper1, libggml0, redis-server, ffmpeg; asr-api active"
