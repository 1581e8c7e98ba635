"""The Lua scripts: each write to the shared store is one script, so it is atomic.

KEYS are ``Keys.script_keys()``; ARGV[1] is the key prefix and ARGV[2] the feed's MAXLEN. Entry
hashes are named from the prefix inside the scripts: they share the namespace's hash tag, so they
live in the same Redis Cluster slot as the declared keys.
"""

from __future__ import annotations

_PRELUDE = """
local P = ARGV[1]
local MAXLEN = ARGV[2]
local K_SEQ, K_LAST, K_EPOCH, K_INDEX, K_EXPIRY, K_FEED =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- Readers compare it with what they synced from: a new epoch means the store was lost (a Redis
-- restart without persistence, a flush) and entry ids started again from 1.
local function epoch()
  local e = redis.call('GET', K_EPOCH)
  if not e then
    local t = redis.call('TIME')
    e = t[1] .. '.' .. t[2]
    redis.call('SET', K_EPOCH, e)
  end
  return e
end

-- Each event names the one before it, so a reader detects any event it could not read.
local function publish(fields)
  local prev = redis.call('GET', K_LAST) or '0-0'
  local id = redis.call('XADD', K_FEED, 'MAXLEN', '~', MAXLEN, '*', 'prev', prev, unpack(fields))
  redis.call('SET', K_LAST, id)
  return id
end

-- Whether a clear (mode, partition or prefix) removes an entry of partition p (false: unknown).
local function clears(mode, arg, p)
  if mode == '1' then return true end
  if not p then return false end
  if mode == '2' then return p ~= '' and string.sub(p, 1, #arg) == arg end
  return p == arg
end

local function drop(gid)
  redis.call('DEL', P .. ':e:' .. gid)
  redis.call('ZREM', K_INDEX, gid)
  redis.call('ZREM', K_EXPIRY, gid)
end

-- Redis expires the entry hashes itself; this removes their ids from the index so that
-- max_entries counts live entries. Readers expire entries locally, so no event is needed.
local function reap(now)
  local gone = redis.call('ZRANGEBYSCORE', K_EXPIRY, '-inf', now, 'LIMIT', 0, 100)
  for _, gid in ipairs(gone) do drop(gid) end
end
"""

# One entry written with its events; evictions are published before the put that caused them.
# Returns its id and the ids it evicted.
_PUT_ROW = """
local function put_row(now, limit, part, vec, kind, payload, ttl, origin)
  local gid = redis.call('INCR', K_SEQ)
  local x = '0'
  if ttl > 0 then x = string.format('%.0f', now + ttl) end
  local key = P .. ':e:' .. gid
  redis.call('HSET', key, 'p', part, 'v', vec, 'k', kind, 'r', payload, 'x', x, 'o', origin)
  if ttl > 0 then
    redis.call('PEXPIREAT', key, x)
    redis.call('ZADD', K_EXPIRY, x, gid)
  end
  redis.call('ZADD', K_INDEX, gid, gid)
  local evicted = {}
  local over = redis.call('ZCARD', K_INDEX) - limit
  if over > 0 then
    for _, old in ipairs(redis.call('ZRANGE', K_INDEX, 0, over - 1)) do
      drop(old)
      publish({'op', 'del', 'g', old})
      table.insert(evicted, tonumber(old))
    end
  end
  publish({'op', 'put', 'g', gid, 'p', part, 'v', vec, 'k', kind, 'r', payload, 'x', x,
    'o', origin})
  return gid, evicted
end
"""

# ARGV[3]: max_entries; then six per row: partition, vector, kind, payload, ttl_ms (0 = none),
# origin. Rows are put in order, each with its own events. One script for many rows because a
# Cluster pipeline cannot carry EVALSHA (redis-py blocks it). Returns
# {epoch, {{id, {evicted ids}} per row}}.
PUT = (
    _PRELUDE
    + _PUT_ROW
    + """
local now = now_ms()
local e = epoch()
reap(now)
local limit = tonumber(ARGV[3])
local replies = {}
for i = 4, #ARGV, 6 do
  local gid, evicted = put_row(now, limit, ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3],
    tonumber(ARGV[i + 4]), ARGV[i + 5])
  table.insert(replies, {gid, evicted})
end
return {e, replies}
"""
)

# After a store reset every process writes back the entries it held, named by their id in the
# lost store (ARGV[4], its epoch): the first to claim an id writes the entry, the others are
# told the id it got, so each entry is stored once. A claim of 0 means the entry was deleted
# meanwhile (see DELETE), as is an entry of a partition cleared meanwhile (see CLEAR).
# ARGV[3]: max_entries; then seven per row: the old id and the six of PUT. Returns
# {epoch, {{id or 0, {evicted ids}} per row}}.
RESEED = (
    _PRELUDE
    + _PUT_ROW
    + """
local now = now_ms()
local e = epoch()
reap(now)
local limit = tonumber(ARGV[3])
local claims = P .. ':claim:' .. ARGV[4]
local cleared = redis.call('SMEMBERS', P .. ':cleared:' .. ARGV[4])
local function was_cleared(p)
  for _, c in ipairs(cleared) do
    if clears(string.sub(c, 1, 1), string.sub(c, 2), p) then return true end
  end
  return false
end
local replies = {}
for i = 5, #ARGV, 7 do
  local claimed = redis.call('HGET', claims, ARGV[i])
  if not claimed and was_cleared(ARGV[i + 1]) then
    redis.call('HSET', claims, ARGV[i], 0)
    claimed = '0'
  end
  if claimed then
    table.insert(replies, {tonumber(claimed), {}})
  else
    local gid, evicted = put_row(now, limit, ARGV[i + 1], ARGV[i + 2], ARGV[i + 3],
      ARGV[i + 4], tonumber(ARGV[i + 5]), ARGV[i + 6])
    redis.call('HSET', claims, ARGV[i], gid)
    table.insert(replies, {gid, evicted})
  end
end
return {e, replies}
"""
)

# ARGV[3]: id, ARGV[4]: the epoch the id belongs to. The id of a lost store names the entry
# re-seeded from it (RESEED's claim), or claims it as deleted so that no process re-seeds it.
# Returns {epoch, 1 if removed else 0}.
DELETE = (
    _PRELUDE
    + """
local e = epoch()
local gid = ARGV[3]
if e ~= ARGV[4] then
  local claims = P .. ':claim:' .. ARGV[4]
  local claimed = redis.call('HGET', claims, gid)
  if not claimed then
    redis.call('HSET', claims, gid, 0)
    return {e, 0}
  end
  gid = claimed
end
local removed = redis.call('ZREM', K_INDEX, gid)
drop(gid)
if removed == 1 then publish({'op', 'del', 'g', gid}) end
return {e, removed}
"""
)

# ARGV[3]: '1' to clear every partition, '0' one partition, '2' every non-default partition
# whose name starts with ARGV[4]; ARGV[4]: the partition or prefix; ARGV[5]: the epoch the
# caller saw. When that store was lost since, the clear is also recorded against it, so that no
# process re-seeds what it removed (see RESEED).
# Returns {epoch, removed}. The event carries the highest id issued so far, so a reader that
# replays it after a newer snapshot removes nothing written after the clear.
CLEAR = (
    _PRELUDE
    + """
local e = epoch()
if ARGV[5] ~= '' and ARGV[5] ~= e then
  redis.call('SADD', P .. ':cleared:' .. ARGV[5], ARGV[3] .. ARGV[4])
end
local up_to = redis.call('GET', K_SEQ) or '0'
local removed = 0
local function selected(gid)
  if ARGV[3] == '1' then return true end
  return clears(ARGV[3], ARGV[4], redis.call('HGET', P .. ':e:' .. gid, 'p'))
end
for _, gid in ipairs(redis.call('ZRANGE', K_INDEX, 0, -1)) do
  if selected(gid) then
    drop(gid)
    removed = removed + 1
  end
end
publish({'op', 'clr', 'g', up_to, 'a', ARGV[3], 'p', ARGV[4]})
return {e, removed}
"""
)

# Where a snapshot starts. Returns {epoch, last feed id, highest id issued, Redis time in ms}.
BEGIN_SYNC = (
    _PRELUDE
    + """
local e = epoch()
return {e, redis.call('GET', K_LAST) or '0-0', redis.call('GET', K_SEQ) or '0',
  tostring(now_ms())}
"""
)
