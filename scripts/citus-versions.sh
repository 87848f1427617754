# shellcheck shell=bash
# Which Citus release the tests build for each PostgreSQL major (source this
# file). Citus 13 supports PostgreSQL 15 to 17 and does not build on 18;
# Citus 14 supports 16 to 18 and dropped 15; no Citus release supports 19.
#
#   citus_version_for_major MAJOR   prints the version, or fails for a major no Citus supports

citus_version_for_major() {
  case "$1" in
    15) echo 13.2.2 ;;
    16 | 17 | 18) echo 14.0.1 ;;
    *) return 1 ;;
  esac
}

# citus_build_packages VERSION: the Debian packages its build needs. Citus 14
# on PostgreSQL 18: 18's headers include ICU's, and its pg_config.h defines
# HAVE_LIBCURL, so Citus compiles its statistics code with curl calls whatever
# configure says: it is configured with libcurl (scripts/build-citus.sh).
citus_build_packages() {
  local common="liblz4-dev libzstd-dev libssl-dev libkrb5-dev libxslt1-dev libpam0g-dev libreadline-dev"
  case "$1" in
    13.*) echo "$common libselinux1-dev" ;;
    *) echo "$common libicu-dev libcurl4-openssl-dev" ;;
  esac
}
