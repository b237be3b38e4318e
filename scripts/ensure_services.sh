#!/usr/bin/env bash
# Start the local PostgreSQL, Redis and RabbitMQ servers if they are installed but
# down. Tests that need one and cannot reach it skip with a loud message.
set -uo pipefail
up() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_up() { for _ in $(seq 1 60); do up "$1" && return 0; sleep 0.5; done; return 1; }

if ! up 5432 && command -v pg_ctlcluster >/dev/null; then
  echo "starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
  wait_up 5432 || echo "WARNING: PostgreSQL did not come up; PostgreSQL tests will skip" >&2
fi
if ! up 6379 && command -v redis-server >/dev/null; then
  echo "starting Redis"
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log || true
  wait_up 6379 || echo "WARNING: Redis did not come up; Redis tests will skip" >&2
fi
if ! up 5672 && command -v rabbitmq-server >/dev/null; then
  echo "starting RabbitMQ"
  rabbitmq-server -detached || true
  wait_up 5672 || echo "WARNING: RabbitMQ did not come up; RabbitMQ tests will skip" >&2
fi
exit 0
