#!/usr/bin/env bash
# kvenv against a real HTTP/2 server standing in for Key Vault: nginx on
# 127.0.0.1, every secret answered after 20 ms (the echo module's
# echo_sleep), over HTTP/2 and, on a second port, HTTP/1.1 only. The token
# comes from an App Service identity endpoint that nginx also serves.
# Whole-process times, interleaved rounds, medians; with BEFORE=path/to/kvenv
# the two binaries alternate in every round.
#
#   scripts/bench-nginx.sh [ROUNDS]        (needs nginx, libnginx-mod-http-echo, openssl, python3)
#   DELAY=0 scripts/bench-nginx.sh         (no server delay: kvenv's own cost, for profiling)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-21}
kvenv=${KVENV:-target/release/kvenv}
[ -x "$kvenv" ] || cargo build --release --quiet --bin kvenv
module=$(ls /usr/lib/nginx/modules/ngx_http_echo_module.so 2>/dev/null || true)
if ! command -v nginx >/dev/null || [ -z "$module" ]; then
  echo "bench-nginx: needs nginx and its echo module (apt-get install nginx libnginx-mod-http-echo)" >&2
  exit 2
fi
work=$(mktemp -d)
trap 'nginx -c "$work/nginx.conf" -s stop 2>/dev/null || true; rm -rf "$work"' EXIT
cd "$work"
openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 1 -subj "/CN=bench CA" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -keyout srv.key -out srv.csr -subj "/CN=bench.vault.azure.net" 2>/dev/null
printf 'subjectAltName=DNS:*.vault.azure.net\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' > ext.cnf
openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out srv.pem -days 1 -extfile ext.cnf 2>/dev/null
secret='location ~ ^/secrets/([^/]+) {
      default_type application/json;
      echo_sleep '"${DELAY:-0.02}"';
      echo '"'"'{"value":"value-of-$1","id":"https://bench.vault.azure.net/secrets/$1/0123456789abcdef0123456789abcdef"}'"'"';
    }'
cat > nginx.conf <<CONF
load_module $module;
worker_processes 1;
error_log $work/error.log;
pid $work/nginx.pid;
events { worker_connections 1024; }
http {
  access_log off;
  server {
    listen 127.0.0.1:18541;
    location /token {
      default_type application/json;
      return 200 '{"access_token":"bench-token","expires_on":"4102444800","resource":"https://vault.azure.net","token_type":"Bearer"}';
    }
  }
  server {
    listen 127.0.0.1:18542 ssl http2;
    ssl_certificate $work/srv.pem;
    ssl_certificate_key $work/srv.key;
    $secret
  }
  server {
    listen 127.0.0.1:18543 ssl;
    ssl_certificate $work/srv.pem;
    ssl_certificate_key $work/srv.key;
    $secret
  }
}
CONF
nginx -c "$work/nginx.conf"
cd - >/dev/null
python3 - "$rounds" "$work" "$kvenv" "${BEFORE:-}" <<'PY'
import os, sys, time, statistics, random
rounds, work, after, before = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
binaries = [("kvenv", after)] if not before else [("before", before), ("after", after)]
def run(binary, refs, port):
    env = {"PATH": "/usr/bin:/bin", "IDENTITY_ENDPOINT": "http://127.0.0.1:18541/token", "IDENTITY_HEADER": "bench"}
    for i in range(refs):
        env[f"V{i}"] = f"@Microsoft.KeyVault(VaultName=bench;SecretName=s{i})"
    args = [binary, "run", "--ca-file", f"{work}/ca.pem",
            "--resolve", f"bench.vault.azure.net=127.0.0.1:{port}", "--", "/bin/true"]
    started = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        null = os.open("/dev/null", os.O_WRONLY); os.dup2(null, 1); os.dup2(null, 2)
        os.execve(binary, args, env)
    _, status, usage = os.wait4(pid, 0)
    if status != 0:
        sys.exit(f"bench-nginx: {binary} with {refs} references failed")
    return (time.perf_counter() - started) * 1000, (usage.ru_utime + usage.ru_stime) * 1000
print(f"nginx on 127.0.0.1, {os.environ.get('DELAY', '0.02')} s per secret; {rounds} interleaved rounds, medians (wall ms / CPU ms of kvenv)")
print("| scenario | " + " | ".join(name for name, _ in binaries) + " |")
print("|---|" + "---|" * len(binaries))
for protocol, port in (("HTTP/2", 18542), ("HTTP/1.1", 18543)):
    for refs in (1, 10, 100):
        times = {name: ([], []) for name, _ in binaries}
        for name, binary in binaries:
            run(binary, refs, port)
        for _ in range(rounds):
            order = binaries[:]; random.shuffle(order)
            for name, binary in order:
                wall, cpu = run(binary, refs, port)
                times[name][0].append(wall); times[name][1].append(cpu)
        cells = [f"{statistics.median(w):.1f} / {statistics.median(c):.1f}" for w, c in times.values()]
        print(f"| {protocol}, {refs} refs | " + " | ".join(cells) + " |")
PY
