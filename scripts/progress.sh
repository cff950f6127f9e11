# with_progress LABEL CMD...: runs CMD with its output on stderr and, while it runs, a line every
# 15 s saying it is still working (npm ci compiling better-sqlite3 is silent for minutes).
with_progress() {
  local label="$1"; shift
  local interval="${PORTUNIX_DB_PROGRESS_INTERVAL:-15}"
  "$@" >&2 &
  local pid=$! start=$SECONDS
  while kill -0 "$pid" 2>/dev/null; do
    sleep "$interval" & wait $! 2>/dev/null || true
    if kill -0 "$pid" 2>/dev/null; then echo "    ... $label still running ($((SECONDS - start)) s)" >&2; fi
  done
  wait "$pid"
}
