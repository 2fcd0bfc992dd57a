-- wrk script: rotate requests over the paths listed (one per line) in the file named after `--`,
-- so a run does not measure one cached row. Requests are formatted once, in init: a per-request
-- wrk.format would make wrk, which shares the two cores with the server, a larger part of the cost.
-- Each thread starts at a different place in the list. done() prints one machine-readable line.

local thread_count = 0

function setup(thread)
   thread:set("first", thread_count * 7919)
   thread_count = thread_count + 1
end

local requests = {}
local count = 0
local position = 0

function init(args)
   for path in io.lines(args[1]) do
      count = count + 1
      requests[count] = wrk.format(nil, path)
   end
   if count == 0 then
      error("no paths in " .. args[1])
   end
   position = (first or 0) % count
end

function request()
   position = position % count + 1
   return requests[position]
end

function done(summary, latency)
   local e = summary.errors
   io.write(string.format(
      'BENCH_RESULT {"requests":%.0f,"duration_us":%.0f,"bytes":%.0f,"connect":%.0f,'
         .. '"read":%.0f,"write":%.0f,"status":%.0f,"timeout":%.0f,'
         .. '"p50_us":%.0f,"p90_us":%.0f,"p99_us":%.0f,"max_us":%.0f,"mean_us":%.1f}\n',
      summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status,
      e.timeout, latency:percentile(50), latency:percentile(90), latency:percentile(99),
      latency.max, latency.mean))
end
