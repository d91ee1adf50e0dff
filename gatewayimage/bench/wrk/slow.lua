-- wrk script for the matrix's slow-client workload (run.sh section matrix): each connection waits
-- DELAY_MS milliseconds before each request, so many connections stay open with little traffic
-- each (think time), the way a crowd of real clients loads a proxy. -H headers still apply.
local d = tonumber(os.getenv("DELAY_MS") or "50")

function delay()
  return d
end
