#!/bin/sh
# Render /etc/nginx/templates/*.template into /etc/nginx/conf.d/ (each without `.template`),
# then run the command (nginx). Only `${NAME}` with NAME an upper-case variable set in the
# environment is replaced, so nginx's own lower-case `$variables` stay as they are. A template
# naming a variable that is not set is an error here, not an nginx that starts half-configured.
set -eu

templates=${NGINX_TEMPLATES:-/etc/nginx/templates}
out=${NGINX_CONF_D:-/etc/nginx/conf.d}

names=$(env | sed -n 's/^\([A-Z][A-Z0-9_]*\)=.*/\1/p')
shell_format=""
for name in $names; do
  shell_format="$shell_format \${$name}"
done

for template in "$templates"/*.template; do
  [ -e "$template" ] || continue
  target="$out/$(basename "$template" .template)"
  envsubst "$shell_format" < "$template" > "$target.partial"
  left=$(grep -o '\${[A-Z][A-Z0-9_]*}' "$target.partial" | sort -u | tr '\n' ' ' || true)
  if [ -n "$left" ]; then
    rm -f "$target.partial"
    echo "render-templates: $template names variables that are not set: $left" >&2
    exit 64
  fi
  mv "$target.partial" "$target"
  echo "render-templates: $template -> $target" >&2
done

exec "$@"
