-- wrk script for bench/ingest.py: POSTs a pre-built body template in which every
-- "@@MID@@" placeholder is replaced by a unique messageId per request.
--
-- usage: wrk ... -s bench/wrk/ingest.lua URL -- TEMPLATE_FILE RUN_NONCE
--   TEMPLATE_FILE  the JSON body (a /v1/batch envelope or one /v1/track message) with
--                  "@@MID@@" where each message's id goes
--   RUN_NONCE      a string that makes ids unique across runs (e.g. "m3")
-- Ids look like  <nonce>-<thread>-<request counter>-<index in body>.
-- done() prints one line "BENCHJSON {...}" with counts and latency percentiles (microseconds).

local threads = {}
local next_tid = 0

function setup(thread)
   next_tid = next_tid + 1
   thread:set("tid", next_tid)
   table.insert(threads, thread)
end

local pieces = {}     -- template split at the placeholders
local holes = 0
local prefix = ""
local counter = 0
local parts = {}

function init(args)
   local f = assert(io.open(args[1], "rb"))
   local template = f:read("*a")
   f:close()
   prefix = args[2] .. "-" .. tostring(tid) .. "-"
   math.randomseed(os.time() * 1000 + tid)
   local start = 1
   while true do
      local s, e = string.find(template, "@@MID@@", start, true)
      if not s then break end
      table.insert(pieces, string.sub(template, start, s - 1))
      start = e + 1
   end
   table.insert(pieces, string.sub(template, start))
   holes = #pieces - 1
end

function request()
   counter = counter + 1
   local n = 0
   for i = 1, holes do
      -- UUIDv4-shaped ids with random leading bits, as SDKs send them: the store's unique
      -- index sees random keys (sequential ids would flatter it). The thread, counter and
      -- index in the tail keep every id unique.
      n = n + 1; parts[n] = pieces[i]
      n = n + 1; parts[n] = string.format("%08x-%04x-4%03x-%s%06x-%04x",
         math.random(0, 0x7fffffff), math.random(0, 0xffff), math.random(0, 0xfff),
         prefix, counter, i)
   end
   n = n + 1; parts[n] = pieces[holes + 1]
   for i = n + 1, #parts do parts[i] = nil end
   return wrk.format("POST", nil, nil, table.concat(parts, "", 1, n))
end

function done(summary, latency, requests)
   local e = summary.errors
   local out = string.format(
      '{"requests":%d,"duration_us":%d,"bytes":%d,"err_connect":%d,"err_read":%d,'
      .. '"err_write":%d,"err_status":%d,"err_timeout":%d,"lat_mean_us":%.1f,'
      .. '"lat_max_us":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"p999_us":%d}',
      summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write,
      e.status, e.timeout, latency.mean, latency.max, latency:percentile(50),
      latency:percentile(90), latency:percentile(99), latency:percentile(99.9))
   io.write("BENCHJSON " .. out .. "\n")
end
