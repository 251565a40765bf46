package benchload

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/trent-kms/trent/internal/sigv4"
)

// Presign signs one request per body, in the order given, all at now, and
// returns them as the HTTP/1.1 bytes to send. They stay valid for as long
// as the server accepts a request's X-Amz-Date (sigv4.DefaultMaxSkew,
// 5 minutes, as AWS).
//
// It is for a load generator that does no crypto of its own (wrk), so that
// the client, which shares the machine with the server, costs as little as
// ../shared/perf/ratio.sh's does.
func Presign(ctx context.Context, t Target, op string, bodies [][]byte, now time.Time) ([][]byte, error) {
	ep, err := resolve(ctx, t)
	if err != nil {
		return nil, err
	}
	reqs := make([][]byte, len(bodies))
	for i, body := range bodies {
		req := ep.template(op)
		if err := sigv4.Sign(req, body, t.AccessKeyID, t.Secret, t.Region, service, now); err != nil {
			return nil, fmt.Errorf("sign request %d: %w", i, err)
		}
		reqs[i] = appendRequest(nil, req, op, body)
	}
	return reqs, nil
}

// WriteWrkScript writes a wrk Lua script to path that sends reqs in turn,
// every request the next one, starting over after the last, and counts the
// answers that are not 2xx. The requests go to path + ".requests", each as
// its length in decimal, a newline and its bytes; the script reads that
// file when wrk starts it.
func WriteWrkScript(path string, reqs [][]byte) error {
	var data []byte
	for _, r := range reqs {
		data = strconv.AppendInt(data, int64(len(r)), 10)
		data = append(data, '\n')
		data = append(data, r...)
	}
	if err := os.WriteFile(path+".requests", data, 0o600); err != nil {
		return fmt.Errorf("write the requests: %w", err)
	}
	script := strings.ReplaceAll(wrkScript, "REQUESTS_FILE", strconv.Quote(path+".requests"))
	if err := os.WriteFile(path, []byte(script), 0o600); err != nil {
		return fmt.Errorf("write the wrk script: %w", err)
	}
	return nil
}

// wrkScript replays pre-signed requests. wrk calls request() for every
// request it sends; what it returns goes out as is.
const wrkScript = `-- Written by trent bench --wrk-script: pre-signed requests, sent in turn.
-- The signatures expire 5 minutes after they were made: write it again for each run.
local f = assert(io.open(REQUESTS_FILE, "rb"))
local data = f:read("*a")
f:close()
local reqs, pos = {}, 1
while pos <= #data do
   local nl = data:find("\n", pos, true)
   local n = tonumber(data:sub(pos, nl - 1))
   reqs[#reqs + 1] = data:sub(nl + 1, nl + n)
   pos = nl + 1 + n
end
data = nil
local i = 0

function request()
   i = i + 1
   if i > #reqs then i = 1 end
   return reqs[i]
end

local threads = {}

function setup(thread)
   table.insert(threads, thread)
end

function init(args)
   non2xx = 0
   first_error = ""
end

function response(status, headers, body)
   if status < 200 or status > 299 then
      non2xx = non2xx + 1
      if first_error == "" then
         first_error = tostring(status) .. " " .. string.sub(body or "", 1, 300)
      end
   end
end

function done(summary, latency, requests)
   local n, ferr = 0, ""
   for _, t in ipairs(threads) do
      n = n + (t:get("non2xx") or 0)
      local e = t:get("first_error") or ""
      if ferr == "" and e ~= "" then ferr = e end
   end
   io.write(string.format("requests not 2xx: %d %s\n", n, string.gsub(ferr, "[%c]", " ")))
end
`
