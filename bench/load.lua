-- wrk script shared by every scenario, so baseline and service get byte-identical requests.
--
--   wrk ... -s bench/load.lua URL -- METHOD PATH BODY_FILE TOKEN IDS_FILE
--
-- METHOD     GET or POST
-- PATH       request path (with query string); with IDS_FILE it is a prefix and
--            each request appends the next id from the file (round robin)
-- BODY_FILE  file whose bytes are the request body (sent as application/json), or "-"
-- TOKEN      bearer token for the Authorization header, or "-"
-- IDS_FILE   file with one id per line, or "-"
--
-- done() prints one line "BENCH_RESULT {json}" that bench/run.py reads.
--
-- Several nodes (two serve processes on two ports, one database): BENCH_NODES in the
-- environment lists them ("127.0.0.1:8001,127.0.0.1:8002"), and wrk's threads are
-- given to them in turn (run with as many threads as nodes, or a multiple), so each
-- node gets its share of the connections. Requests are the same bytes either way.

local requests_ = nil
local next_index = 0
local threads_set_up = 0

function setup(thread)
  local nodes = os.getenv("BENCH_NODES")
  if nodes == nil or nodes == "" then
    return
  end
  local found = {}
  for host, port in string.gmatch(nodes, "([^,:]+):(%d+)") do
    found[#found + 1] = { host, port }
  end
  local node = found[threads_set_up % #found + 1]
  threads_set_up = threads_set_up + 1
  thread.addr = wrk.lookup(node[1], node[2])[1]
end

function init(args)
  local method, path, body_file, token, ids_file = args[1], args[2], args[3], args[4], args[5]
  local headers = { ["Accept"] = "application/json" }
  if token ~= nil and token ~= "-" then
    headers["Authorization"] = "Bearer " .. token
  end
  local body = nil
  if body_file ~= nil and body_file ~= "-" then
    local f = assert(io.open(body_file, "rb"))
    body = f:read("*a")
    f:close()
    headers["Content-Type"] = "application/json"
  end
  requests_ = {}
  if ids_file ~= nil and ids_file ~= "-" then
    for line in io.lines(ids_file) do
      if #line > 0 then
        requests_[#requests_ + 1] = wrk.format(method, path .. line, headers, body)
      end
    end
  else
    requests_[1] = wrk.format(method, path, headers, body)
  end
end

function request()
  next_index = next_index % #requests_ + 1
  return requests_[next_index]
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"p50":%d,"p90":%d,"p99":%d,"max":%d,"mean":%.1f}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean))
end
