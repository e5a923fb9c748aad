#!/bin/sh
# Makes deploy/secrets/: a token for each client in proxyd/config.yaml (alice, bob, prometheus),
# Redis's password and the store URL that holds it, and the provider key from $OPENAI_API_KEY.
# Files that exist are kept, so running it again changes nothing. Hand each person their token.
set -eu
cd "$(dirname "$0")"
umask 077
mkdir -p secrets
chmod 700 secrets
new() { python3 -c 'import secrets; print(secrets.token_urlsafe(32))'; }
for name in alice bob prometheus; do
  [ -s "secrets/$name.token" ] || new > "secrets/$name.token"
done
[ -s secrets/redis.password ] || new > secrets/redis.password
[ -s secrets/redis.url ] || printf 'redis://:%s@redis:6379/0\n' "$(cat secrets/redis.password)" > secrets/redis.url
if [ ! -s secrets/openai.key ]; then
  if [ -n "${OPENAI_API_KEY:-}" ]; then
    printf '%s\n' "$OPENAI_API_KEY" > secrets/openai.key
  else
    echo "put the provider key in deploy/secrets/openai.key (or export OPENAI_API_KEY and run this again)" >&2
  fi
fi
# The containers run as their own users (proxyd 10001, prometheus 65534, redis 999): the files
# are readable inside them; the folder (700) keeps them from other users on this machine.
chmod 644 secrets/*
echo "secrets in $(pwd)/secrets: alice.token, bob.token, prometheus.token, redis.password, redis.url"
