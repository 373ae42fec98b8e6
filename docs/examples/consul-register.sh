#!/bin/sh
# A registration script as it is written for Consul: curl against the agent
# API, lowercase keys, an HTTP check. It runs unchanged against cairn
# (docs/consul-compatibility.md); cairn's tests run it.
#
#   CONSUL_HTTP_ADDR   the agent (default 127.0.0.1:8500)
#   CONSUL_HTTP_TOKEN  sent as X-Consul-Token when set
#   WEB_HEALTH_URL     what the check probes (default http://127.0.0.1:8080/health)
set -eu

addr=${CONSUL_HTTP_ADDR:-127.0.0.1:8500}
health=${WEB_HEALTH_URL:-http://127.0.0.1:8080/health}
set --
if [ -n "${CONSUL_HTTP_TOKEN:-}" ]; then
    set -- -H "X-Consul-Token: $CONSUL_HTTP_TOKEN"
fi

curl -sSf -X PUT "$@" "http://$addr/v1/agent/service/register" -d @- <<JSON
{
  "id": "web-1",
  "name": "web",
  "address": "127.0.0.10",
  "port": 8080,
  "tags": ["primary"],
  "meta": {"version": "2.1.0"},
  "check": {
    "http": "$health",
    "interval": "1s",
    "timeout": "500ms",
    "deregister_critical_service_after": "1m"
  }
}
JSON

curl -sSf "http://$addr/v1/health/service/web"
echo
