-- wrk script: gridesk ticket creation.
--   wrk -s bench/gridesk_ticket.lua http://127.0.0.1:HTTP_PORT
-- Body: the ticket JSON of exactly BENCH_BODY_BYTES bytes, with the thread id
-- and a per-thread counter printed at fixed width into the summary (same
-- per-request Lua work as the etcd script's unique key).
-- Token: BENCH_GRIDESK_TOKEN (from POST /v1/login, done by bench/gridesk.sh).
local dir = os.getenv("BENCH_DIR") or "bench"
local C = dofile(dir .. "/wrk_common.lua")

tid = 0
counter = 0
local size, headers

function setup(thread) C.setup(thread) end

function init(args)
  size = C.body_bytes()
  C.body(size, 0, 0) -- fail early if the size is too small
  headers = {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. (os.getenv("BENCH_GRIDESK_TOKEN") or ""),
  }
end

function request()
  counter = counter + 1
  return wrk.format("POST", "/v1/tickets", headers, C.body(size, tid, counter))
end

function done(summary, latency, requests) C.done(summary, latency, requests) end
