# Upgrade, remove, purge and install again. An operator's edit of the
# conffile survives the upgrade without a prompt; the upgrade restarts the
# daemons; remove stops every instance; purge removes state and user.
sed -i 's/^threads = 0$/threads = 1/' /etc/asr/config.toml
echo '# edited by the operator' >>/etc/asr/config.toml
systemctl stop "asr-worker@*"
systemctl start asr-worker@{1..3}
api_pid=$(systemctl show -p MainPID --value asr-api)
worker_pid=$(systemctl show -p MainPID --value asr-worker@3)
old=$(dpkg-query -W -f '${Version}' asr-server)
apt_install /st/asr-server-upgrade.deb
new=$(dpkg-query -W -f '${Version}' asr-server)
[[ $new != "$old" ]] || fail "version still $old after the upgrade"
grep -q '^threads = 1$' /etc/asr/config.toml && grep -q 'edited by the operator' \
	/etc/asr/config.toml || fail "the conffile edit did not survive the upgrade"
[[ ! -e /etc/asr/config.toml.dpkg-dist && ! -e /etc/asr/config.toml.dpkg-new ]] ||
	fail "the upgrade left a .dpkg-dist or .dpkg-new config"
systemctl is-active --quiet asr-api || fail "asr-api not active after the upgrade"
[[ $(systemctl show -p MainPID --value asr-api) != "$api_pid" ]] ||
	fail "asr-api was not restarted by the upgrade"
[[ $(systemctl show -p MainPID --value asr-worker@3) != "$worker_pid" ]] ||
	fail "asr-worker@3 was not restarted by the upgrade"
[[ $(active_workers) == "1 2 3" ]] || fail "workers after the upgrade: $(active_workers)"
id=$(submit /st/jfk.wav)
wait_state "$id" succeeded
pass "upgrade $old -> $new kept the edited conffile, restarted asr-api and 3 workers"

DEBIAN_FRONTEND=noninteractive apt-get remove -y -q asr-server >/tmp/apt.log 2>&1 ||
	{ tail -n 30 /tmp/apt.log; fail "apt-get remove"; }
[[ -z $(active_workers) ]] || fail "workers still active after remove: $(active_workers)"
systemctl is-active --quiet asr-api && fail "asr-api still active after remove"
[[ ! -e /usr/bin/asr-worker ]] || fail "asr-worker still installed"
[[ -f /etc/asr/config.toml && -d /var/lib/asr/models ]] ||
	fail "remove deleted the config or the state"
getent passwd asr >/dev/null || fail "remove deleted the asr user"
pass "apt remove stopped all workers and asr-api, kept config, state and user"

DEBIAN_FRONTEND=noninteractive apt-get purge -y -q asr-server >/tmp/apt.log 2>&1 ||
	{ tail -n 30 /tmp/apt.log; fail "apt-get purge"; }
[[ ! -e /etc/asr && ! -e /var/lib/asr ]] || fail "purge left /etc/asr or /var/lib/asr"
getent passwd asr >/dev/null && fail "purge left the asr user"
getent group asr >/dev/null && fail "purge left the asr group"
pass "apt purge removed /etc/asr, /var/lib/asr and the asr user"

apt_install /st/asr-server.deb
systemctl is-active --quiet asr-api || fail "asr-api not active after reinstalling"
install_model
systemctl reset-failed asr-worker@1 2>/dev/null || true
systemctl start asr-worker@1
id=$(submit /st/jfk.wav)
wait_state "$id" succeeded
pass "installing again after purge works: jfk.wav transcribed"
