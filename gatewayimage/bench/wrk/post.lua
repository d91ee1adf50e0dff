-- wrk script for the matrix's request-body workloads (run.sh section matrix): every request is a
-- POST with a body of BODY_BYTES bytes, framed by Content-Length (BODY_FRAMING=length) or in
-- chunks of at most 16 KiB (BODY_FRAMING=chunked, Transfer-Encoding: chunked). The User-Agent
-- comes from the environment (WRK_UA): wrk's -H headers do not reach requests a script formats.
local size = tonumber(os.getenv("BODY_BYTES") or "4096")
local framing = os.getenv("BODY_FRAMING") or "length"
local ua = os.getenv("WRK_UA") or "wrk"

-- Built on the first request: wrk sets the Host header only after the script is loaded.
local req

local function build()
  local body = string.rep("x", size)
  local headers = { ["User-Agent"] = ua, ["Content-Type"] = "application/octet-stream" }
  if framing ~= "chunked" then
    req = wrk.format("POST", "/", headers, body) -- wrk adds Content-Length
    return
  end
  local parts, off = {}, 0
  while off < size do
    local n = math.min(16384, size - off)
    parts[#parts + 1] = string.format("%x\r\n%s\r\n", n, string.sub(body, off + 1, off + n))
    off = off + n
  end
  parts[#parts + 1] = "0\r\n\r\n"
  headers["Transfer-Encoding"] = "chunked"
  -- Without a body wrk.format adds no Content-Length: the head ends with its blank line.
  req = wrk.format("POST", "/", headers) .. table.concat(parts)
end

function request()
  if not req then build() end
  return req
end
