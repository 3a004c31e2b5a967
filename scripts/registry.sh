# Shared by the demo and the benchmarks: start a throw-away registry on 127.0.0.1, port 0.
# start_registry NAME DIR -> sets REG_<NAME> to 127.0.0.1:PORT and records the PID.
start_registry() {
  local name=$1 dir=$2
  mkdir -p "$dir/$name"
  cat > "$dir/$name/config.yml" <<YAML
version: 0.1
log: {level: info, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $dir/$name/data}, delete: {enabled: true}}
http: {addr: '127.0.0.1:0', secret: demo}
YAML
  /usr/bin/docker-registry serve "$dir/$name/config.yml" 2>"$dir/$name/log" &
  echo $! >> "$dir/pids"
  local addr=""
  for _ in $(seq 1 200); do
    addr=$(grep -o 'listening on 127.0.0.1:[0-9]*' "$dir/$name/log" | head -1 | cut -d' ' -f3 || true)
    [ -n "$addr" ] && curl -fsS -o /dev/null "http://$addr/v2/" && break
    sleep 0.05
  done
  [ -n "$addr" ] || { echo "registry $name did not start:"; cat "$dir/$name/log"; exit 1; }
  printf -v "REG_${name^^}" '%s' "$addr"
}

stop_registries() {
  local dir=$1
  [ -f "$dir/pids" ] && while read -r pid; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done < "$dir/pids"
  rm -f "$dir/pids"
}
