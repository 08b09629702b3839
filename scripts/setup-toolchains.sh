#!/usr/bin/env bash
# Install what `codescale execute` needs to run model-written code, on request:
#   scripts/setup-toolchains.sh [all | sandbox python javascript typescript java csharp go rust ...]
# Always installs the sandbox (bubblewrap; util-linux's setpriv). Idempotent: a tool already on
# PATH is left alone; apt-get update runs once, and only when something is missing. Debian/Ubuntu
# packages (apt-get) and npm (TypeScript); needs root (or sudo). A language left out here is
# skipped by the stage with a message in the results and Table 3, not an error.
#
#   language     command(s) checked   installed from
#   sandbox      bwrap, setpriv       apt: bubblewrap util-linux
#   python       /usr/bin/python3     apt: python3 (a pyenv/venv python is not used inside)
#   javascript   node                 apt: nodejs
#   typescript   node, tsc            apt: nodejs npm; npm install -g typescript@5
#   java         java (JDK >= 11)     apt: default-jdk-headless
#   csharp       mcs, mono            apt: mono-mcs mono-runtime libmono-system-numerics4.0-cil
#   go           go                   apt: golang-go
#   rust         rustc                apt: rustc (or keep a rustup toolchain already on PATH)
set -euo pipefail

langs=("$@")
if [[ ${#langs[@]} -eq 0 || " ${langs[*]} " == *" all "* ]]; then
    langs=(python javascript typescript java csharp go rust)
fi

SUDO=""
if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null || { echo "setup-toolchains: run as root (or install sudo)" >&2; exit 1; }
    SUDO="sudo"
fi

updated=0
apt_install() {  # apt_install PACKAGE...: install the Debian packages (apt-get update once)
    if ! command -v apt-get >/dev/null; then
        echo "setup-toolchains: no apt-get here; install $* yourself" >&2
        return 1
    fi
    if [[ $updated -eq 0 ]]; then
        $SUDO apt-get update -q
        updated=1
    fi
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "$@"
}

need() {  # need CMD PACKAGE...: install the packages when CMD is not on PATH
    local cmd=$1
    shift
    command -v "$cmd" >/dev/null || apt_install "$@"
}

need bwrap bubblewrap
need setpriv util-linux

for lang in "${langs[@]}"; do
    case $lang in
        sandbox) ;;
        python) [[ -x /usr/bin/python3 ]] || apt_install python3 ;;  # the sandbox runs /usr/bin/python3
        javascript) need node nodejs ;;
        typescript)
            need node nodejs
            need npm npm
            command -v tsc >/dev/null || $SUDO npm install -g typescript@5
            ;;
        java)
            if ! command -v java >/dev/null || ! command -v javac >/dev/null; then
                apt_install default-jdk-headless
            fi
            ;;
        csharp)
            need mcs mono-mcs libmono-system-numerics4.0-cil
            need mono mono-runtime
            ;;
        go) need go golang-go ;;
        rust) need rustc rustc ;;
        *)
            echo "setup-toolchains: unknown language '$lang' (python javascript typescript java csharp go rust, or all)" >&2
            exit 2
            ;;
    esac
done

# What the stage will find (the same lookup as codescale.execute.harness.toolchain).
for tool in bwrap setpriv python3 node tsc java mcs mono go rustc; do
    printf '%-8s %s\n' "$tool" "$(command -v "$tool" || echo 'not installed')"
done
