/**
 * The limiter's Redis scripts. Each runs atomically, so N processes on N machines see
 * one consistent budget per Okta bucket. Times come from the Redis server's clock
 * (TIME), never from the callers', so machines with skewed clocks still agree;
 * callers pass only durations (e.g. "the reset is 41 s away").
 *
 * Keys of one bucket (all share the `{bucket}` hash tag):
 *   state  hash: GCRA time (tat), the Okta window (wEnd/wLim/wUsed/wLen/wProv/oEnd),
 *                pause, AIMD concurrency cap (capLow/capAt/capDecAt), lane counters.
 *   held   hash: process id → concurrency slots it holds.
 *   alive  zset: process id → lease expiry; a process that stops renewing (crashed,
 *                stalled) loses its slots when the lease runs out.
 * Every key has a TTL that each call refreshes: an unused bucket leaves nothing behind,
 * and deleted keys (Redis restart without persistence, a flush) are simply re-created.
 *
 * The arithmetic mirrors src/limiter/pacing.ts (pace, batchSize, SAME_WINDOW_MS,
 * currentCap, decreasedCap, pollGoesFirst); test/limiter/pacing.test.ts runs both.
 */

/**
 * acquire: release slots no longer in use, fold in one observation of Okta's headers and
 * an optional concurrency-429 signal, then grant up to `want` permits (a permit = one
 * token of the rate budget + one concurrency slot), split between the main and poll lanes.
 *
 * Returns { grantedMain, grantedPoll, waitMs (-1: bound by concurrency, retry when a slot
 * frees), cap, pauseLeftMs, intervalUs, windowLimit (-1 unknown), windowLeft (-1 unknown) }.
 */
export const ACQUIRE_LUA = `
local K, H, A = KEYS[1], KEYS[2], KEYS[3]
local proc = ARGV[1]
local wantM = tonumber(ARGV[2])
local wantP = tonumber(ARGV[3])
local keep = tonumber(ARGV[4])
local cfgRate = tonumber(ARGV[5])
local cfgMax = tonumber(ARGV[6])
local share = tonumber(ARGV[7])
local obsIn = tonumber(ARGV[8])
local obsLim = tonumber(ARGV[9])
local obsRem = tonumber(ARGV[10])
local capDown = tonumber(ARGV[11])
local leaseMs = tonumber(ARGV[12])
local ttl = tonumber(ARGV[13])
local batchMs = tonumber(ARGV[14])
local maxBatch = tonumber(ARGV[15])
local capStepMs = tonumber(ARGV[16])
local capCooldownMs = tonumber(ARGV[17])

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)

local f = redis.call('HMGET', K, 'tat', 'wEnd', 'wLim', 'wUsed', 'wLen', 'wProv', 'oEnd', 'pause',
  'capLow', 'capAt', 'capDecAt', 'cM', 'cP', 'cAt', 'dmM', 'dmP', 'oPrev', 'dmMBy', 'dmPBy')
local tat = tonumber(f[1]) or 0
local wEnd = tonumber(f[2])
local wLim = tonumber(f[3])
local wUsed = tonumber(f[4]) or 0
local wLen = tonumber(f[5])
local wProv = tonumber(f[6]) or 0
local oEnd = tonumber(f[7])
local oPrev = tonumber(f[17])
local dmMBy = f[18]
local dmPBy = f[19]
local pause = tonumber(f[8]) or 0
local capLow = tonumber(f[9])
local capAt = tonumber(f[10]) or now
local capDecAt = tonumber(f[11])
local cM = tonumber(f[12]) or 0
local cP = tonumber(f[13]) or 0
local cAt = tonumber(f[14]) or now
local dmM = tonumber(f[15]) or 0
local dmP = tonumber(f[16]) or 0

-- A window we tracked has ended by the server clock: assume the next one follows it
-- (provisional until an answer's headers confirm it).
local function rollover()
  if wEnd ~= nil and now >= wEnd then
    if wLen ~= nil and now < wEnd + wLen then
      wEnd = wEnd + wLen
    else
      wEnd = nil
    end
    wUsed = 0
    wProv = 1
  end
end
rollover()

-- Fold in Okta's view of the window (Limit, Remaining, Reset as a duration from now).
if obsIn >= 0 and obsLim > 0 then
  local E = now + obsIn
  -- Two answers of one window can disagree by up to a second about its end (whole-second
  -- Date), so ends closer than this are one window (see pacing.ts SAME_WINDOW_MS).
  local tol = 1000
  local seen = obsLim - obsRem
  if seen < 0 then seen = 0 end
  -- Window length = distance between two consecutive windows' ends (each refined to
  -- its smallest estimate). A step of about two lengths or more spans an idle gap.
  local prevReal = oEnd
  if oEnd ~= nil and math.abs(E - oEnd) <= tol then
    if E < oEnd then oEnd = E end
  elseif oEnd == nil or E > oEnd + tol then
    oPrev = oEnd
    oEnd = E
  end
  if oPrev ~= nil then
    local step = oEnd - oPrev
    if step >= 1000 and (wLen == nil or step <= wLen * 1.9) then wLen = step end
  end
  if wProv == 1 then
    -- We rolled past a window's end and guessed the next one: the first answer from a
    -- window later than the one we left replaces the guess (its length may be wrong).
    -- Answers from the window we left are stale.
    if prevReal == nil or E > prevReal + tol then
      if wEnd == nil or seen > wUsed then wUsed = seen end
      wEnd = E
      wLim = obsLim
      wProv = 0
    end
  elseif wEnd ~= nil and math.abs(E - wEnd) <= tol then
    -- the window we track: Okta may have counted calls we did not grant (another client on the token)
    if seen > wUsed then wUsed = seen end
    -- Date has whole-second precision and is floored, so each answer's "reset in" errs
    -- long: the smallest estimate of the window's end is the best one.
    if E < wEnd then wEnd = E end
    wLim = obsLim
  elseif wEnd == nil or E > wEnd + tol then
    -- a newer window than the one we track (it ended earlier than we thought)
    wUsed = seen
    wEnd = E
    wLim = obsLim
  end
  -- else: an answer from a window that already ended here; stale, ignored
  rollover()
end

-- Pace (see pacing.ts pace()).
local int = 60000 / cfgRate
local blockedUntil = 0
local left = -1
if wEnd ~= nil and wLim ~= nil then
  left = wLim - wUsed
  if left <= 0 then
    left = 0
    blockedUntil = wEnd
  else
    local paced = (wEnd - now) / left
    if paced > int then int = paced end
  end
elseif wLim ~= nil and wLim > 0 and wLen ~= nil then
  local even = wLen / wLim
  if even > int then int = even end
end
if pause > now and pause > blockedUntil then blockedUntil = pause end

-- GCRA with a burst of one batch: tokens a caller takes at once are paid for by the
-- callers after it, so any stretch of time sees at most rate * time + batch + 1 grants.
local batch = math.floor(batchMs / int)
if batch > maxBatch then batch = maxBatch end
if batch < 1 then batch = 1 end
local tau = batch * int
local base = tat
if base < now - int then base = now - int end
local avail = 0
if blockedUntil <= now then
  avail = math.floor((now + tau - base) / int)
  if avail < 0 then avail = 0 end
end

-- Concurrency: drop the slots of processes whose lease ran out, count the others'.
local dead = redis.call('ZRANGEBYSCORE', A, '-inf', now)
for i = 1, #dead do redis.call('HDEL', H, dead[i]) end
if #dead > 0 then redis.call('ZREMRANGEBYSCORE', A, '-inf', now) end
local others = 0
local all = redis.call('HGETALL', H)
for i = 1, #all, 2 do
  local p = all[i]
  if p ~= proc then
    if redis.call('ZSCORE', A, p) then
      others = others + tonumber(all[i + 1])
    else
      redis.call('HDEL', H, p)
    end
  end
end
local cap = cfgMax
if capLow ~= nil then
  cap = capLow + math.floor((now - capAt) / capStepMs)
  if cap >= cfgMax then
    cap = cfgMax
    capLow = nil
  end
end
if capDown == 1 and (capDecAt == nil or now - capDecAt >= capCooldownMs) then
  capLow = math.floor(cap / 2)
  if capLow < 1 then capLow = 1 end
  capAt = now
  capDecAt = now
  cap = capLow
end
local free = cap - others - keep
if free < 0 then free = 0 end

-- Lanes: recent grants per lane decay over ~30 intervals (at least 1 s).
local decayMs = 30 * int
if decayMs < 1000 then decayMs = 1000 end
local k = math.exp(-(now - cAt) / decayMs)
cM = cM * k
cP = cP * k
cAt = now
local wP = share
if wP < 1e-9 then wP = 1e-9 end
local wM = 1 - share
if wM < 1e-9 then wM = 1e-9 end
-- This call's own demand is weighed token by token below; these flags say whether a
-- lane has unserved demand in another process (recently).
local compM = dmM > now and dmMBy ~= proc
local compP = dmP > now and dmPBy ~= proc

local want = wantM + wantP
local n = want
if avail < n then n = avail end
if free < n then n = free end
if left >= 0 and left < n then n = left end
local gM, gP = 0, 0
local laneBound = false
for i = 1, n do
  local pollFirst = (cP / wP) <= (cM / wM)
  local takeP
  if gP < wantP and gM < wantM then
    takeP = pollFirst
  elseif gP < wantP then
    -- the main lane wants tokens too (elsewhere in the cluster): keep its share for it
    if compM and not pollFirst then laneBound = true break end
    takeP = true
  else
    if compP and pollFirst then laneBound = true break end
    takeP = false
  end
  if takeP then
    gP = gP + 1
    cP = cP + 1
  else
    gM = gM + 1
    cM = cM + 1
  end
end
local g = gM + gP

local wait = 0
if g < want then
  if blockedUntil > now then
    wait = blockedUntil - now
  elseif left >= 0 and left - g <= 0 then
    wait = wEnd - now
  elseif g >= free then
    wait = -1
  elseif laneBound then
    wait = int
  else
    wait = base + (g + 1) * int - tau - now
  end
  if wait >= 0 and wait < 1 then wait = 1 end
end
-- Unsatisfied demand keeps the other lane to its share for a while.
local mark = 3 * int
if wait > 0 then mark = mark + wait end
if mark < 200 then mark = 200 end
if mark > 5000 then mark = 5000 end
if gM < wantM then
  dmM = now + mark
  dmMBy = proc
end
if gP < wantP then
  dmP = now + mark
  dmPBy = proc
end

if g > 0 then
  tat = base + g * int
  wUsed = wUsed + g
elseif blockedUntil > tat then
  tat = blockedUntil
end

local function put(field, v)
  if v == nil then redis.call('HDEL', K, field) else redis.call('HSET', K, field, tostring(v)) end
end
put('tat', tat)
put('wEnd', wEnd)
put('wLim', wLim)
put('wUsed', wUsed)
put('wLen', wLen)
put('wProv', wProv)
put('oEnd', oEnd)
put('oPrev', oPrev)
put('capLow', capLow)
put('capAt', capAt)
put('capDecAt', capDecAt)
put('cM', cM)
put('cP', cP)
put('cAt', cAt)
put('dmM', dmM)
put('dmP', dmP)
if dmMBy then put('dmMBy', dmMBy) end
if dmPBy then put('dmPBy', dmPBy) end
redis.call('PEXPIRE', K, ttl)

local mine = keep + g
if mine > 0 then
  redis.call('HSET', H, proc, mine)
  redis.call('ZADD', A, now + leaseMs, proc)
  redis.call('PEXPIRE', H, ttl)
  redis.call('PEXPIRE', A, ttl)
else
  redis.call('HDEL', H, proc)
  redis.call('ZREM', A, proc)
end

local pauseLeft = 0
if pause > now then pauseLeft = pause - now end
local windowLeft = -1
if left >= 0 then windowLeft = left - g end
local wl = -1
if wLim ~= nil then wl = wLim end
return { gM, gP, math.ceil(wait), cap, math.ceil(pauseLeft), math.floor(int * 1000), wl, windowLeft }
`;

/**
 * pause: every process stops granting for this bucket until now + ARGV[1] ms (server
 * clock). Only ever extends a pause. The GCRA time moves to the pause's end so the
 * resume is paced, not a burst. Returns the pause's remaining ms.
 */
export const PAUSE_LUA = `
local K = KEYS[1]
local rel = tonumber(ARGV[1])
local ttl = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local u = now + rel
local p = tonumber(redis.call('HGET', K, 'pause')) or 0
if u > p then
  redis.call('HSET', K, 'pause', tostring(u))
  p = u
end
local tat = tonumber(redis.call('HGET', K, 'tat')) or 0
if tat < p then redis.call('HSET', K, 'tat', tostring(p)) end
redis.call('PEXPIRE', K, ttl)
local left = p - now
if left < 0 then left = 0 end
return math.ceil(left)
`;
