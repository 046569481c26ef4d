-- wrk script: POST pre-signed GitHub push deliveries, each with a unique X-GitHub-Delivery.
-- Usage: wrk ... -s deliveries.lua URL -- <file of "signature<TAB>body" lines> <run label>
-- Bodies (and so signatures) cycle through the file; the delivery id never repeats, so every
-- accepted request must become exactly one queued job.

local threads = {}
local counter = 0

function setup(thread)
  thread:set("number", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  bodies, signatures = {}, {}
  for line in io.lines(args[1]) do
    local tab = line:find("\t", 1, true)
    table.insert(signatures, line:sub(1, tab - 1))
    table.insert(bodies, line:sub(tab + 1))
  end
  label = args[2]
  ok = 0
  other = 0
end

function request()
  counter = counter + 1
  local i = counter % #bodies + 1
  local headers = {
    ["Content-Type"] = "application/json",
    ["X-GitHub-Event"] = "push",
    ["X-GitHub-Hook-ID"] = "421337",
    ["X-GitHub-Delivery"] = string.format("%s-%d-%d", label, number, counter),
    ["X-Hub-Signature-256"] = "sha256=" .. signatures[i],
  }
  return wrk.format("POST", "/hooks/crm", headers, bodies[i])
end

function response(status, headers, body)
  if status >= 200 and status < 300 then ok = ok + 1 else other = other + 1 end
end

function done(summary, latency, requests)
  local ok_total, other_total = 0, 0
  for _, thread in ipairs(threads) do
    ok_total = ok_total + thread:get("ok")
    other_total = other_total + thread:get("other")
  end
  local errors = summary.errors
  io.write(string.format(
    'RESULT {"requests": %d, "seconds": %.3f, "p50_us": %d, "p99_us": %d, "ok": %d, ' ..
    '"non_2xx": %d, "socket_errors": %d}\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50), latency:percentile(99),
    ok_total, other_total, errors.connect + errors.read + errors.write + errors.timeout))
end
