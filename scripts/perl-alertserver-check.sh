#!/usr/bin/env bash
# Interop check of spec alerts.md §8 tests 38 and 39: our `serve` queues alerts, Pandora's real
# Perl Alert Server executes them, and test/interop/perl-alertserver.ts prints PASS/FAIL per
# expectation (exit 0 when all pass). Not part of `npm test`: it needs a Pandora FMS source tree.
#
#   scripts/perl-alertserver-check.sh PANDORA_SOURCE [--keep]
#
# PANDORA_SOURCE: an unpacked Pandora FMS source, the folder holding pandora_server/ (its bin/ and
# lib/ are run as they are, never copied) and pandora_console/pandoradb.sql (the tables and
# columns our schema subset lacks are taken from it, into the scratch database only).
# --keep leaves the scratch database and the temporary folder (logs, the action's output file).
#
# Needs MariaDB as the tests do (TEST_MYSQL_URL, default root@127.0.0.1:3306) and, when the Perl
# modules are missing, root for apt-get (Debian packages only). With a password-less MariaDB
# login, the check creates a throw-away MariaDB user for the Perl server (it refuses an empty
# dbpass) and drops it at the end.
set -euo pipefail

if [[ $# -lt 1 || ! -d "$1" ]]; then
  echo "usage: $0 PANDORA_SOURCE [--keep]" >&2
  exit 2
fi
source_dir=$(cd "$1" && pwd)
shift
server_dir="$source_dir/pandora_server"
[[ -f "$server_dir/bin/pandora_server" ]] || server_dir="$source_dir"
if [[ ! -f "$server_dir/bin/pandora_server" ]]; then
  echo "no pandora_server/bin/pandora_server under $source_dir" >&2
  exit 2
fi

# The Perl modules the server loads, as Debian packages (its DEBIAN/control, minus the network
# tools an Alert Server does not run).
packages=(libdbi-perl libdbd-mysql-perl libjson-perl libxml-simple-perl libxml-twig-perl
  libhtml-parser-perl libio-socket-inet6-perl libsocket6-perl libio-socket-ssl-perl
  libnetaddr-ip-perl libtime-format-perl libgeo-ip-perl libwww-perl libnet-telnet-perl
  libencode-locale-perl)
if ! (cd "$server_dir" && PERL5LIB=lib perl -c bin/pandora_server >/dev/null 2>&1); then
  echo "installing the Perl server's Debian packages: ${packages[*]}"
  sudo_cmd=()
  [[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get install -y --no-install-recommends "${packages[@]}" >/dev/null ||
    { "${sudo_cmd[@]}" apt-get update >/dev/null &&
      "${sudo_cmd[@]}" apt-get install -y --no-install-recommends "${packages[@]}" >/dev/null; }
  (cd "$server_dir" && PERL5LIB=lib perl -c bin/pandora_server)
fi

cd "$(dirname "$0")/.."
exec npx tsx test/interop/perl-alertserver.ts "$source_dir" "$@"
