#!/usr/bin/env bash
# All of scamlib's CUDA work in one command, with one JSON + Markdown report.
#
#   benchmarks/gpu_check.sh                      # on a GPU machine: every step on CUDA
#   benchmarks/gpu_check.sh --device cpu         # the same steps at reduced sizes, on the CPU (CI)
#   benchmarks/gpu_check.sh --dry-run            # list every command it would run, run nothing
#   benchmarks/gpu_check.sh --limit 420 --out benchmarks/results
#
# It installs the project as the README says, into a throw-away virtual environment that sees
# the machine's own packages (torch included), so the machine is left as it was found. Then
# benchmarks/gpu_check.py runs the steps (cuda-marked tests, bench_metrics, bench_cgcn,
# bench_predict, a smoke run of the `paper` profile) against one deadline, and rewrites the
# report after every step: a run stopped at the limit still leaves a partial report that says
# which steps did not run. Exit status: 0 when every chosen step ran and passed, 1 when a step
# failed, 3 when none failed but the time limit stopped the run or a step lacked the free disk
# it needs (the paper smoke: 8 GiB in $TMPDIR; the report is then partial and says so).
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONUNBUFFERED=1

device=cuda
dry=0
for arg in "$@"; do
  case "$arg" in
    --dry-run) dry=1 ;;
  esac
done
prev=""
for arg in "$@"; do
  [ "$prev" = "--device" ] && device="$arg"
  prev="$arg"
done

python=${PYTHON:-python3}
if [ "$dry" = 1 ]; then
  echo "+ $python -m venv --system-site-packages \$TMP/venv   (removed at exit)"
  echo "+ \$TMP/venv/bin/python -m pip install -q -c constraints.txt -e \".[dev]\"" \
       "|| pip install --no-deps --no-build-isolation -e .   (offline machines)"
  SCAMLIB_GPU_CHECK_DRY_PYTHON='$TMP/venv/bin/python' exec "$python" benchmarks/gpu_check.py "$@"
fi

tmp="$(mktemp -d)"
had_egg_info=0
[ -d scamlib.egg-info ] && had_egg_info=1
cleanup() {
  rm -rf "$tmp"
  # an editable install writes scamlib.egg-info into the checkout: remove it unless it was here
  [ "$had_egg_info" = 1 ] || rm -rf scamlib.egg-info
}
trap cleanup EXIT
started=$(date +%s)
"$python" -m venv --system-site-packages "$tmp/venv" || { echo "gpu_check: cannot make a venv"; exit 1; }
venv_python="$tmp/venv/bin/python"
# the README's install; a machine without a package index still gets the project itself (its
# dependencies are then the machine's own, which the report lists)
if ! "$venv_python" -m pip install -q -c constraints.txt -e ".[dev]" >"$tmp/install.log" 2>&1; then
  echo "gpu_check: the README's install failed (no package index?); installing the project alone"
  tail -n 3 "$tmp/install.log"
  "$venv_python" -m pip install -q --no-deps --no-build-isolation -e . >>"$tmp/install.log" 2>&1 \
    || { echo "gpu_check: could not install the project"; tail -n 20 "$tmp/install.log"; exit 1; }
fi
export SCAMLIB_GPU_CHECK_INSTALL_SECONDS=$(( $(date +%s) - started ))
"$venv_python" benchmarks/gpu_check.py "$@"
exit $?
