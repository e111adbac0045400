#!/usr/bin/env bash
# Fetches the GraphiQL that `GET /graphql` serves, and the React it runs on, from the npm
# registry at the pinned versions below; checks each tarball against the registry's own
# integrity (sha512) and keeps only the minified production files the binary embeds, each
# package's licence and VERSIONS (package, version, file, sha256). The results are committed,
# so building pubgate never needs Node or the network.
#
# Usage: vendor/graphiql/update.sh   (needs npm and Node; change a version below, run, commit)
set -euo pipefail

# package version path-in-tarball:name-here ...
# Browser (UMD) builds, loaded by plain <script> tags: GraphiQL 5 and React 19 ship none.
# GraphiQL's bundles the graphql-ws client, so subscriptions need no further package.
PACKAGES=(
  "react 18.3.1 package/umd/react.production.min.js:react.production.min.js package/LICENSE:LICENSE.react"
  "react-dom 18.3.1 package/umd/react-dom.production.min.js:react-dom.production.min.js package/LICENSE:LICENSE.react-dom"
  "graphiql 3.9.0 package/graphiql.min.js:graphiql.min.js package/graphiql.min.css:graphiql.min.css package/LICENSE:LICENSE.graphiql"
)

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

digest() { # algorithm, encoding (hex or base64), file; Node's, so it is the same everywhere
  node -e 'const [algorithm, encoding, file] = process.argv.slice(1);
    const hash = require("crypto").createHash(algorithm).update(require("fs").readFileSync(file));
    process.stdout.write(hash.digest(encoding));' "$@"
}

versions="$work/VERSIONS"
{
  echo "# Written by update.sh: package, version, file, sha256 of the file as committed."
  echo "# The files are byte for byte those of the packages' tarballs on registry.npmjs.org."
} >"$versions"

for entry in "${PACKAGES[@]}"; do
  read -r package version files <<<"$entry"
  spec="$package@$version"
  want="$(npm view "$spec" dist.integrity)"
  [[ "$want" == sha512-* ]] || { echo "$spec: the registry gives no sha512 integrity ($want)" >&2; exit 1; }
  tarball="$(cd "$work" && npm pack "$spec" --silent)"
  got="sha512-$(digest sha512 base64 "$work/$tarball")"
  if [[ "$got" != "$want" ]]; then
    echo "$spec: the tarball's integrity is $got, the registry's $want" >&2
    exit 1
  fi
  mkdir -p "$work/$package"
  tar -xzf "$work/$tarball" -C "$work/$package"
  for pair in $files; do
    from="${pair%%:*}" to="${pair##*:}"
    cp "$work/$package/$from" "$work/$to"
    if [[ "$to" != LICENSE.* ]]; then
      echo "$package $version $to $(digest sha256 hex "$work/$to")" >>"$versions"
    fi
  done
  echo "$spec: $want" >&2
done

# Nothing the browser fetches may come from another host: no stylesheet imports, and every
# url() in the CSS is inline data (GraphiQL's fonts are embedded). Hosts named in the scripts
# are printed for review; tests/api/startup.rs allows only those known never to be fetched.
for css in "$work"/*.css; do
  if grep -q '@import' "$css" || grep -oE 'url\([^)]*' "$css" | grep -vqE '^url\(["'\'']?data:'; then
    echo "$(basename "$css") loads something from elsewhere (@import or url() that is not data:)" >&2
    exit 1
  fi
done
echo "hosts named in the scripts:" >&2
grep -ohE 'https?://[A-Za-z0-9.-]+' "$work"/*.js | sort | uniq -c >&2

find "$here" -maxdepth 1 -type f \( -name '*.js' -o -name '*.css' -o -name 'LICENSE.*' \) -delete
cp "$work"/*.js "$work"/*.css "$work"/LICENSE.* "$versions" "$here/"
echo "vendor/graphiql updated; rebuild pubgate and run its tests" >&2
