-- wrk script for authql's benchmarks. The scenario comes from the environment:
--   BENCH_MODE   = healthz | typename | me | refresh | login
--   BENCH_TOKENS = a file with one token (access or refresh) or email per line
-- Every response that is not a 200 without GraphQL "errors" counts as an error.

local mode = os.getenv("BENCH_MODE")
local tokens_file = os.getenv("BENCH_TOKENS")
local password = os.getenv("BENCH_PASSWORD") or ""
local threads = {}
local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  errors = 0
  pool = {}
  next_index = 0
  if tokens_file then
    local n = 0
    for line in io.lines(tokens_file) do
      -- Each thread takes its own slice, so no token is shared between threads.
      if n % counter_total() == id then table.insert(pool, line) end
      n = n + 1
    end
  end
end

function counter_total()
  return tonumber(os.getenv("BENCH_THREADS") or "2")
end

local function take()
  if mode == "refresh" then
    -- A chain's next token comes back in the response; each token is spent
    -- once. wrk builds one request it never sends, so the pool holds spares.
    return table.remove(pool, 1)
  end
  next_index = next_index % #pool + 1
  return pool[next_index]
end

function request()
  if mode == "healthz" then
    return wrk.format("GET")
  elseif mode == "typename" then
    return wrk.format(nil, nil, nil, '{"query":"{ __typename }"}')
  elseif mode == "me" then
    local headers = { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. take() }
    return wrk.format(nil, nil, headers, '{"query":"{ me { id email } }"}')
  elseif mode == "refresh" then
    local t = take() or "pool-exhausted"
    return wrk.format(nil, nil, nil,
      '{"query":"mutation($t: String!) { refreshToken(refreshToken: $t) { refreshToken } }","variables":{"t":"' .. t .. '"}}')
  elseif mode == "login" then
    return wrk.format(nil, nil, nil,
      '{"query":"mutation($e: String!, $p: String!) { login(input: { email: $e, password: $p }) { auth { accessToken } } }","variables":{"e":"'
      .. take() .. '","p":"' .. password .. '"}}')
  end
end

function response(status, headers, body)
  if status ~= 200 or body:find('"errors"', 1, true) then
    errors = errors + 1
  end
  if mode == "refresh" then
    local t = body:match('"refreshToken":"([^"]+)"')
    if t then table.insert(pool, t) end
  end
end

function done(summary, latency, requests)
  local gql_errors = 0
  for _, t in ipairs(threads) do gql_errors = gql_errors + t:get("errors") end
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"max_us":%d,"errors":%d,"socket_errors":%d,"status_errors":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), latency.max,
    gql_errors, e.connect + e.read + e.write + e.timeout, e.status))
end
