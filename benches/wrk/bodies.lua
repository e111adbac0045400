-- POSTs GraphQL requests to /graphql, each the next line of the file BODIES_FILE (one JSON
-- request body per line), so that every request asks a different question (a different
-- customer, a different page cursor). Each wrk thread starts at its own offset and wraps around.
-- Counts any response that is not 200 or that carries "errors".
local bodies = {}
for line in io.lines(os.getenv("BODIES_FILE")) do
  if #line > 0 then bodies[#bodies + 1] = line end
end
assert(#bodies > 0, "BODIES_FILE has no request bodies")

local threads = {}
local next_id = 0
setup = function(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  threads[#threads + 1] = thread
end

local i, errors
init = function()
  -- Threads start a fair share apart, so no two send the same body at the same time.
  i = (id or 0) * math.floor(#bodies / 2)
  errors = 0
end

local headers = { ["Content-Type"] = "application/json" }
if os.getenv("TOKEN") then headers["Authorization"] = "Bearer " .. os.getenv("TOKEN") end

request = function()
  i = i + 1
  return wrk.format("POST", nil, headers, bodies[(i % #bodies) + 1])
end

response = function(status, _, body)
  if status ~= 200 or string.find(body, '"errors"', 1, true) then errors = errors + 1 end
end

done = function(summary, latency, _)
  local failed = 0
  for _, thread in ipairs(threads) do failed = failed + (thread:get("errors") or 0) end
  io.write(string.format("graphql-errors %d\n", failed))
  io.write(string.format("p50-ms %.2f p99-ms %.2f rps %.1f\n",
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.requests / (summary.duration / 1e6)))
end
