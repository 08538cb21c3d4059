# shellcheck shell=bash
# The nginx baseline both bench/load/run.sh and bench/load/compare.sh measure against: a plain streaming reverse
# proxy in front of the fake upstream (no buffering either way, HTTP/1.1 keep-alive to the upstream).
# write_nginx_conf DIR UPSTREAM_PORT LISTEN_PORT   writes DIR/nginx.conf; run it with -p DIR -c DIR/nginx.conf.
write_nginx_conf() {
  local dir=$1 upstream_port=$2 listen_port=$3
  mkdir -p "$dir"
  cat >"$dir/nginx.conf" <<CONF
worker_processes auto;
worker_rlimit_nofile 65536;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 16384; }
http {
  access_log off;
  client_body_temp_path $dir/body;
  proxy_temp_path $dir/proxy;
  fastcgi_temp_path $dir/fastcgi;
  uwsgi_temp_path $dir/uwsgi;
  scgi_temp_path $dir/scgi;
  keepalive_requests 1000000;
  upstream fake_upstream {
    server 127.0.0.1:$upstream_port;
    keepalive 512;
    keepalive_requests 1000000;
  }
  server {
    listen 127.0.0.1:$listen_port backlog=4096;
    location / {
      proxy_pass http://fake_upstream;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
      proxy_request_buffering off;
      proxy_read_timeout 300s;
    }
  }
}
CONF
}
