-- wrk script: POST survey answers, each request with the next unused token.
-- Env: TOKENS_FILE (one clear token a line), CSRF (secret sent as cookie and header), WRK_THREADS.
-- Answers follow a plausible mix: 50% promoters, 30% passives, 20% detractors
-- (the detractors open a call-back, raise a flag and queue the owner's mail).
local threads = {}
local counter = 1
local SCORES = {10, 9, 10, 9, 9, 8, 7, 8, 5, 2}

function setup(thread)
  thread:set("id", counter)
  table.insert(threads, thread)
  counter = counter + 1
end

function init(args)
  local nthreads = tonumber(os.getenv("WRK_THREADS") or "2")
  tokens = {}
  local i = 0
  for line in io.lines(os.getenv("TOKENS_FILE")) do
    if i % nthreads == (id - 1) then table.insert(tokens, line) end
    i = i + 1
  end
  n = 0
  errors = 0
  reused = 0
  local csrf = os.getenv("CSRF")
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
  wrk.headers["Cookie"] = "csrftoken=" .. csrf
  wrk.headers["X-CSRFToken"] = csrf
end

function request()
  n = n + 1
  if n > #tokens then reused = reused + 1 end
  local token = tokens[((n - 1) % #tokens) + 1]
  local score = SCORES[(n % #SCORES) + 1]
  local csat = score >= 9 and 5 or (score >= 7 and 4 or 2)
  local body = "nps=" .. score .. "&csat=" .. csat .. "&would_buy_again=yes&comment=Bench+answer+" .. n
  return wrk.format("POST", "/feedback/s/" .. token .. "/", nil, body)
end

function response(status, headers, body)
  if status ~= 302 then errors = errors + 1 end
end

function done(summary, latency, requests)
  local errs, reuse = 0, 0
  for _, thread in ipairs(threads) do
    errs = errs + thread:get("errors")
    reuse = reuse + thread:get("reused")
  end
  local seconds = summary.duration / 1e6
  io.write(string.format("submissions: %d in %.1f s = %.1f/s\n", summary.requests, seconds, summary.requests / seconds))
  io.write(string.format("errors (status other than 302, or socket): %d (+%d connect/read/write/timeout)\n", errs,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
  io.write(string.format("tokens reused (amendments): %d\n", reuse))
  for _, p in ipairs({50, 90, 95, 99}) do
    io.write(string.format("p%d latency: %.1f ms\n", p, latency:percentile(p) / 1000))
  end
  io.write(string.format("max latency: %.1f ms\n", latency.max / 1000))
end
