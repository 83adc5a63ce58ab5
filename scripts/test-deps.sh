#!/usr/bin/env bash
# Installs the Debian packages the tests need, when missing. Idempotent: does nothing when all are there.
set -euo pipefail
need=()
command -v sipp >/dev/null 2>&1 || need+=(sip-tester)
command -v ffprobe >/dev/null 2>&1 || need+=(ffmpeg)
command -v sox >/dev/null 2>&1 || need+=(sox)
# The in-line relay is tested with a real phone speaking SRTP (SDES).
command -v baresip >/dev/null 2>&1 || need+=(baresip)
# G.729 test audio is encoded with Debian's bcg729 (ffmpeg has a G.729 decoder but no encoder).
command -v gcc >/dev/null 2>&1 || need+=(gcc)
[ -f /usr/include/bcg729/encoder.h ] || need+=(libbcg729-dev)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v sha256sum >/dev/null 2>&1 || need+=(coreutils)
# Archive tests start real servers: OpenSSH's sshd (SFTP) and Samba's smbd, and use smbclient.
[ -x /usr/sbin/sshd ] || need+=(openssh-server)
command -v smbd >/dev/null 2>&1 || [ -x /usr/sbin/smbd ] || need+=(samba)
command -v smbclient >/dev/null 2>&1 || need+=(smbclient)
# The S3 target is tested against a real single-node Ceph radosgw (Object Lock enforced), checked
# with Debian's aws CLI.
command -v ceph-mon >/dev/null 2>&1 || need+=(ceph-mon)
command -v ceph-osd >/dev/null 2>&1 || need+=(ceph-osd)
command -v radosgw >/dev/null 2>&1 || need+=(radosgw)
command -v ceph >/dev/null 2>&1 || need+=(ceph-common)
[ -x /usr/bin/aws ] || need+=(awscli)
# SQL recording log tests start PostgreSQL and MariaDB and read rows back with psql and mariadb.
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || need+=(postgresql)
command -v psql >/dev/null 2>&1 || need+=(postgresql-client)
command -v mariadbd >/dev/null 2>&1 || [ -x /usr/sbin/mariadbd ] || need+=(mariadb-server)
command -v mariadb >/dev/null 2>&1 || need+=(mariadb-client)
# Web UI end-to-end tests drive Debian's Chromium (playwright-core, no browser download); the
# verification kit is unpacked with unzip.
[ -x /usr/bin/chromium ] || need+=(chromium)
command -v unzip >/dev/null 2>&1 || need+=(unzip)
# SIP answers are checked with an outside parser: tshark's SIP and SDP dissectors on a loopback capture.
command -v tshark >/dev/null 2>&1 || need+=(tshark)
if [ ${#need[@]} -eq 0 ]; then
  echo "test-deps: all present"
  exit 0
fi
echo "test-deps: installing ${need[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq "${need[@]}" >/dev/null
echo "test-deps: done"
