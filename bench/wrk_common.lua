-- Shared by bench/etcd_put.lua and bench/gridesk_ticket.lua (loaded with dofile
-- in every wrk Lua state: the setup/done state and each thread's state).
--
-- Environment (set by bench/run.sh):
--   BENCH_BODY_BYTES  size in bytes of the gridesk ticket JSON body, and so of
--                     the raw (pre-base64) etcd value
--   BENCH_WRK_OUT     file that done() writes its JSON result to

local M = {}

-- Ticket JSON body of exactly `size` bytes; tid/n are printed at fixed width
-- so every request of a run has the same size.  Must stay byte-identical to
-- ticket_body() in bench/util.py.
local desc_cache = {}

function M.body(size, tid, n)
  local head = string.format(
    '{"customer":"C0001","class":"fault_repair","channel":"hotline",' ..
    '"summary":"bench ticket t%03d-%010d","description":"', tid, n)
  local tail = '"}'
  local pad = size - #head - #tail
  if pad < 1 then
    error(string.format("BENCH_BODY_BYTES=%d too small (min %d)", size, #head + #tail + 1))
  end
  local desc = desc_cache[pad]
  if not desc then
    local filler = "Meter reading disputed; customer reports outage on feeder. "
    desc = string.rep(filler, math.floor(pad / #filler) + 1):sub(1, pad)
    desc_cache[pad] = desc
  end
  return head .. desc .. tail
end

function M.body_bytes()
  return tonumber(os.getenv("BENCH_BODY_BYTES") or "512")
end

-- Standard base64 (RFC 4648, with padding), LuaJIT `bit` library.
local bit = require("bit")
local b64chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
local enc = {}
for i = 0, 63 do enc[i] = b64chars:sub(i + 1, i + 1) end

function M.b64(s)
  local out = {}
  local n = #s
  local i = 1
  while i <= n - 2 do
    local a, b, c = s:byte(i, i + 2)
    local v = bit.bor(bit.lshift(a, 16), bit.lshift(b, 8), c)
    out[#out + 1] = enc[bit.rshift(v, 18)] .. enc[bit.band(bit.rshift(v, 12), 63)] ..
                    enc[bit.band(bit.rshift(v, 6), 63)] .. enc[bit.band(v, 63)]
    i = i + 3
  end
  local rest = n - i + 1
  if rest == 2 then
    local a, b = s:byte(i, i + 1)
    local v = bit.bor(bit.lshift(a, 16), bit.lshift(b, 8))
    out[#out + 1] = enc[bit.rshift(v, 18)] .. enc[bit.band(bit.rshift(v, 12), 63)] ..
                    enc[bit.band(bit.rshift(v, 6), 63)] .. "="
  elseif rest == 1 then
    local v = bit.lshift(s:byte(i), 16)
    out[#out + 1] = enc[bit.rshift(v, 18)] .. enc[bit.band(bit.rshift(v, 12), 63)] .. "=="
  end
  return table.concat(out)
end

-- setup/done helpers: give each thread an id, collect per-thread counters.
local threads = {}
local next_tid = 1

function M.setup(thread)
  thread:set("tid", next_tid)
  next_tid = next_tid + 1
  table.insert(threads, thread)
end

function M.done(summary, latency, requests)
  local sent = 0
  for _, t in ipairs(threads) do
    sent = sent + (t:get("counter") or 0)
  end
  local e = summary.errors
  local ok = summary.requests - e.status
  local secs = summary.duration / 1e6
  local fields = {
    string.format('"requests":%d', summary.requests),
    string.format('"ok":%d', ok),
    string.format('"generated":%d', sent),
    string.format('"duration_us":%d', summary.duration),
    string.format('"bytes":%d', summary.bytes),
    string.format('"rps_ok":%.2f', ok / secs),
    string.format('"err_connect":%d', e.connect),
    string.format('"err_read":%d', e.read),
    string.format('"err_write":%d', e.write),
    string.format('"err_status":%d', e.status),
    string.format('"err_timeout":%d', e.timeout),
    string.format('"lat_min_us":%d', latency.min),
    string.format('"lat_mean_us":%.1f', latency.mean),
    string.format('"lat_p50_us":%d', latency:percentile(50.0)),
    string.format('"lat_p90_us":%d', latency:percentile(90.0)),
    string.format('"lat_p99_us":%d', latency:percentile(99.0)),
    string.format('"lat_p999_us":%d', latency:percentile(99.9)),
    string.format('"lat_max_us":%d', latency.max),
    string.format('"threads":%d', #threads),
  }
  local json = "{" .. table.concat(fields, ",") .. "}\n"
  local path = os.getenv("BENCH_WRK_OUT")
  if path and path ~= "" then
    local f = assert(io.open(path, "w"))
    f:write(json)
    f:close()
  end
  io.write("wrk-result " .. json)
end

return M
