"""The budgets' one Lua script: reserve slots, settle a copy's budget, pause a budget.

Two kinds of budget, both on the Redis server's clock in microseconds:

- **rate** (GCRA): one number, the theoretical arrival time (TAT); `burst` sends may go at once,
  then one per interval. Right for a limit counted per second (Telegram's 30/s, a chat's 1/s).
- **windows**: a list of the recent sends' times, with a floor (closed until) first; a send may
  go when every window `(limit, period)` holds fewer than `limit` sends in the `period` before
  it. Right for "20 messages in any minute" (a Telegram group): a rate budget would space them
  one every 3 s, where the group takes a burst of them as long as the minute allows.

One script with an operation argument, so the three share the code that reads and writes both
kinds. ARGV[1] is the operation; for each key, three more values follow the operation's own:
the emission interval (µs), the burst tolerance (µs), and the windows ("" for a rate budget, else
"limit:period_µs,limit:period_µs").

- `reserve` ARGV: parts, shared (how many keys are the bot's, first), own horizon, horizon (µs;
  -1: none). The first part spends from every key; later parts from the destination's own only.
  Returns {wait µs} when the first part's slot lies past a horizon (nothing spent: past `own
  horizon` by the destination's own keys alone, or past `horizon` by all), else {0, offset of
  part 1, offset of part 2, …} in µs from now.
- `settle` (KEYS[1]: the destination's own) ARGV: µs since the copy's first call was really
  made, the calls made. Moves the budget to where those calls, made from that moment, leave it
  (never back).
- `pause` (KEYS[1]) ARGV: pause µs. Closed until then; never shortens a pause.

A key of the other kind (a group's budget written by a relay from before windows, during a
rolling upgrade) reads as empty and is overwritten, instead of failing every send with
WRONGTYPE until it expires.
"""

SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local op = ARGV[1]
local first_arg = ({reserve = 6, settle = 4, pause = 3})[op]
local tats, intervals, tolerances, logs = {}, {}, {}, {}

for i, key in ipairs(KEYS) do
  local base = first_arg + 3 * (i - 1)
  intervals[i] = tonumber(ARGV[base])
  tolerances[i] = tonumber(ARGV[base + 1])
  local spec = ARGV[base + 2]
  if spec == '' then
    local held = redis.pcall('GET', key)  -- a windows budget's list before an upgrade: none
    if type(held) ~= 'string' then held = '0' end
    local tat = tonumber(held)
    if tat < now then tat = now end
    tats[i] = tat
  else
    local log = {windows = {}, longest = 0, times = {}}
    for limit, period in string.gmatch(spec, '(%d+):(%d+)') do
      log.windows[#log.windows + 1] = {tonumber(limit), tonumber(period)}
      if tonumber(period) > log.longest then log.longest = tonumber(period) end
    end
    local raw = redis.pcall('LRANGE', key, 0, -1)  -- a rate budget's number before: none
    if raw.err then raw = {} end
    log.floor = tonumber(raw[1] or '0')
    for j = 2, #raw do
      local at = tonumber(raw[j])
      if at > now - log.longest then log.times[#log.times + 1] = at end
    end
    logs[i] = log
  end
end

local function allow(i)  -- the earliest moment key i lets one more send go
  local log = logs[i]
  if log == nil then return tats[i] - tolerances[i] end
  local at, n = log.floor, #log.times
  if n > 0 and log.times[n] > at then at = log.times[n] end  -- in order: never before the last
  for _, w in ipairs(log.windows) do
    if n >= w[1] then
      local open = log.times[n - w[1] + 1] + w[2]
      if open > at then at = open end
    end
  end
  return at
end

local function spend(i, slot)
  if logs[i] == nil then
    if tats[i] < slot then tats[i] = slot end
    tats[i] = tats[i] + intervals[i]
  else
    table.insert(logs[i].times, slot)
  end
end

local function save(i, key)
  local log = logs[i]
  if log == nil then
    local ttl = math.ceil((tats[i] - now) / 1000) + 1000
    redis.call('SET', key, string.format('%.0f', tats[i]), 'PX', ttl)
    return
  end
  local values, last = {string.format('%.0f', log.floor)}, log.floor
  for _, at in ipairs(log.times) do
    values[#values + 1] = string.format('%.0f', at)
    if at + log.longest > last then last = at + log.longest end
  end
  redis.call('DEL', key)
  redis.call('RPUSH', key, unpack(values))
  redis.call('PEXPIRE', key, math.ceil((last - now) / 1000) + 1000)
end

if op == 'pause' then
  local until_at = now + tonumber(ARGV[2])
  if logs[1] ~= nil then
    if until_at > logs[1].floor then logs[1].floor = until_at end
  elseif until_at + tolerances[1] > tats[1] then
    tats[1] = until_at + tolerances[1]
  end
  save(1, KEYS[1])
  return 0
end

if op == 'settle' then
  local first = now - tonumber(ARGV[2])
  local calls = tonumber(ARGV[3])
  local log = logs[1]
  if log == nil then
    local floor = first + calls * intervals[1]
    if floor > tats[1] then tats[1] = floor end
  else  -- the first call went at `first`, the others between it and now: count them now
    local n = #log.times
    for j = math.max(1, n - calls + 1), n do
      local at = now
      if j == n - calls + 1 then at = first end
      if at > log.times[j] then log.times[j] = at end
    end
  end
  save(1, KEYS[1])
  return 0
end

local parts = tonumber(ARGV[2])
local shared = tonumber(ARGV[3])
local own_horizon = tonumber(ARGV[4])
local horizon = tonumber(ARGV[5])
if own_horizon >= 0 then
  for i = shared + 1, #KEYS do
    local wait = allow(i) - now
    if wait > own_horizon then return {wait} end
  end
end
local out = {0}
local slot = now
for p = 1, parts do
  local first = 1
  if p > 1 then first = shared + 1 end
  for i = first, #KEYS do
    local at = allow(i)
    if at > slot then slot = at end
  end
  if p == 1 and horizon >= 0 and slot - now > horizon then return {slot - now} end
  for i = first, #KEYS do spend(i, slot) end
  out[p + 1] = slot - now
end
for i, key in ipairs(KEYS) do save(i, key) end
return out
"""
