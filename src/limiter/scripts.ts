/**
 * The limiter's Redis scripts. Each runs atomically, so N processes on N machines see
 * one consistent budget per Okta bucket. Times come from the Redis server's clock
 * (TIME), never from the callers', so machines with skewed clocks still agree;
 * callers pass only durations (e.g. "the reset is 41 s away", "this request was
 * granted 730 ms ago").
 *
 * Keys of one bucket (one hash tag: `{bucket}`, or the prefix's own `{tag}` when it
 * has one, which comes first in the key and so wins; either way one slot):
 *   state  hash: GCRA time (tat), grant counter (gc), the current Okta window
 *                (wId/wRst/wLim/wUsed/wProv/wFirst/wFSeen/wLast), the previous one
 *                (pId/pFirst/pFSeen/pLast/pEnd), what is known of the windows' length
 *                (lenLo/lenHi bracket, wLen from reset steps, phase), pause (pause/pWhy,
 *                read-only streak roN/roAt, last block end blk), AIMD concurrency cap
 *                (capLow/capAt/capDecAt), lane counters.
 *   held   hash: process id → concurrency slots it holds.
 *   alive  zset: process id → lease expiry; a process that stops renewing (crashed,
 *                stalled) loses its slots when the lease runs out.
 * Every key has a TTL that each call refreshes: an unused bucket leaves nothing behind,
 * and deleted keys (Redis restart without persistence, a flush) are simply re-created.
 *
 * The arithmetic mirrors src/limiter/pacing.ts (pace, windowEnds, noteLength,
 * relaxLength, lengthEstimate, boundaryGuardMs, batchSize, currentCap, decreasedCap,
 * pollGoesFirst, readOnlyPauseMs); test/limiter/pacing.test.ts runs both.
 */

/** Values per observation in the acquire script's ARGV (see OBS_FIELDS). */
export const OBS_ARITY = 8;
/** Index (1-based) of the first observation value in the acquire script's ARGV. */
export const OBS_START = 19;

/**
 * acquire: release slots no longer in use, fold in observations of Okta's headers (one
 * per window, at most two), an optional concurrency-429 signal and refunds, then grant
 * up to `want` permits (a permit = one token of the rate budget + one concurrency slot),
 * split between the main and poll lanes.
 *
 * ARGV: 1 process id, 2 want main, 3 want poll, 4 slots kept, 5 configured per minute,
 * 6 configured max concurrent, 7 poll share, 8 concurrency 429 (0/1), 9 lease ms, 10 key
 * TTL ms, 11 batch window ms, 12 max batch, 13 cap step ms, 14 cap cooldown ms, 15 tokens
 * refunded (granted to requests that were dropped meanwhile), 16 ms since the latest
 * granted request that succeeded was granted (-1 none), 17 phase evidence (0/1), 18 number
 * of observations, then per observation (OBS_ARITY values): Reset (epoch s: the window's
 * identity), Limit, ms until the reset (smallest estimate), highest Limit − Remaining,
 * highest (Limit − Remaining − ticket) or "x", lowest Limit − Remaining among answers with
 * a grant time, ms since that one was granted (-1), ms since the latest-granted one was
 * granted (-1).
 *
 * Returns { grantedMain, grantedPoll, waitMs (-1: bound by concurrency, retry when a slot
 * frees), cap, pauseLeftMs, intervalUs, windowLimit (-1 unknown), windowLeft (-1 unknown),
 * grant counter after this call (tickets: gc-g+1 .. gc), pause reason (0 none, 1 rate
 * limit, 2 read-only), window length estimate ms (-1 unknown), ms until the window's safe
 * end (-1 unknown), phase rules on (0/1) }.
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
local capDown = tonumber(ARGV[8])
local leaseMs = tonumber(ARGV[9])
local ttl = tonumber(ARGV[10])
local batchMs = tonumber(ARGV[11])
local maxBatch = tonumber(ARGV[12])
local capStepMs = tonumber(ARGV[13])
local capCooldownMs = tonumber(ARGV[14])
local refund = tonumber(ARGV[15])
local okAgo = tonumber(ARGV[16])
local evidence = tonumber(ARGV[17])
local nObs = tonumber(ARGV[18])

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)

local names = { 'tat', 'gc', 'wId', 'wRst', 'wLim', 'wUsed', 'wProv', 'wFirst', 'wFSeen', 'wLast',
  'pId', 'pFirst', 'pFSeen', 'pLast', 'pEnd', 'lenLo', 'lenHi', 'wLen', 'phase', 'pause', 'pWhy',
  'roN', 'roAt', 'blk', 'capLow', 'capAt', 'capDecAt', 'cM', 'cP', 'cAt', 'dmM', 'dmP', 'dmMBy', 'dmPBy' }
local f = redis.call('HMGET', K, unpack(names))
local s = {}
for i = 1, #names do
  if i >= 33 then s[names[i]] = f[i] else s[names[i]] = tonumber(f[i]) end
end
local tat = s.tat or 0
local gc = s.gc or 0
local wId, wRst, wLim, wUsed, wProv = s.wId, s.wRst, s.wLim, s.wUsed or 0, s.wProv or 0
local wFirst, wFSeen, wLast = s.wFirst, s.wFSeen, s.wLast
local pId, pFirst, pFSeen, pLast, pEnd = s.pId, s.pFirst, s.pFSeen, s.pLast, s.pEnd
local lenLo, lenHi, wLen, phase = s.lenLo, s.lenHi, s.wLen, s.phase or 0
local pause, pWhy, roN, roAt, blk = s.pause or 0, s.pWhy or 0, s.roN or 0, s.roAt or 0, s.blk or 0
local capLow, capAt, capDecAt = s.capLow, s.capAt or now, s.capDecAt
local cM, cP, cAt, dmM, dmP = s.cM or 0, s.cP or 0, s.cAt or now, s.dmM or 0, s.dmP or 0
local dmMBy, dmPBy = s.dmMBy, s.dmPBy

-- Refunds: tokens granted to requests dropped before they could use them.
if refund > 0 then
  wUsed = wUsed - refund
  if wUsed < 0 then wUsed = 0 end
end

-- A success of a request granted after the latest read-only pause ends the streak.
if okAgo >= 0 and roN > 0 and now - okAgo >= roAt then roN = 0 end
if evidence == 1 then phase = 1 end

-- The window's length: the bracket (pacing.ts noteLength / relaxLength / lengthEstimate).
local function lengthEstimate()
  if lenHi == nil then return nil end
  if lenLo == nil then return lenHi end
  return (lenLo + lenHi) / 2
end
-- pacing.ts boundaryGuardMs
local function guardFor(len)
  local g = 2 * len / math.max(1, wLim or 1)
  if g < 20 then g = 20 end
  return g
end
local function noteLo(v)
  if v == nil or v <= 0 then return end
  if lenLo == nil or v > lenLo then lenLo = v end
  if lenHi ~= nil and lenLo > lenHi then lenHi = lenLo + guardFor(lengthEstimate() or v) end
end
local function noteHi(v)
  if v == nil or v <= 0 then return end
  if lenHi == nil or v < lenHi then lenHi = v end
  if lenLo ~= nil and lenHi < lenLo then lenLo = lenHi - guardFor(lengthEstimate() or v) end
end
local function relax()
  local L = lengthEstimate() or lenLo
  if L == nil then return end
  local r = guardFor(L) / 8
  if lenLo ~= nil then lenLo = lenLo - r end
  if lenHi ~= nil then lenHi = lenHi + r end
end

-- Where the current window ends (pacing.ts windowEnds): returns probe, end.
local function ends()
  local L = lengthEstimate()
  if phase ~= 1 or wFirst == nil or L == nil or wLim == nil then return wRst, wRst end
  local guard = guardFor(L)
  local probe = wFirst + L
  local e = probe + guard
  if wLast ~= nil and wLast + guard > e then e = wLast + guard end
  if wRst ~= nil and wRst < e then e = wRst end
  if probe > e then probe = e end
  return probe, e
end

-- The window we track has ended by the server clock: assume the next one follows it
-- (provisional until an answer's headers confirm it).
local function rollover()
  local _, e = ends()
  if e == nil or now < e then return end
  if wProv == 0 and wId ~= nil then
    pId, pFirst, pFSeen, pLast, pEnd = wId, wFirst, wFSeen, wLast, wRst
  end
  wId = nil
  wUsed = 0
  wProv = 1
  wLast = nil
  wFSeen = nil
  if phase == 1 and lengthEstimate() ~= nil then
    -- where windows open with their first request, the next one opens now
    wFirst = now
    wRst = nil
  else
    wFirst = nil
    if wLen ~= nil and now < e + wLen then wRst = e + wLen else wRst = nil end
  end
end
rollover()

-- Fold in Okta's view of up to two windows, oldest first.
for i = 0, nObs - 1 do
  local b = ${OBS_START} + i * ${OBS_ARITY}
  local R = tonumber(ARGV[b])
  local lim = tonumber(ARGV[b + 1])
  local E = now + tonumber(ARGV[b + 2])
  local used = tonumber(ARGV[b + 3])
  local sMt = tonumber(ARGV[b + 4])
  local fSeen = tonumber(ARGV[b + 5])
  local fAgo = tonumber(ARGV[b + 6])
  local lAgo = tonumber(ARGV[b + 7])
  if lim > 0 then
    -- Okta's count plus every grant after the request that saw it (tickets).
    if sMt ~= nil and gc + sMt > used then used = gc + sMt end
    local gF, gL = nil, nil
    if fAgo >= 0 then gF = now - fAgo end
    if lAgo >= 0 then gL = now - lAgo end
    if wId ~= nil and R == wId then
      if wRst == nil or E < wRst then wRst = E end
      wLim = lim
      if used > wUsed then wUsed = used end
      if gF ~= nil and (wFSeen == nil or fSeen < wFSeen) then wFirst = gF; wFSeen = fSeen end
      if gL ~= nil and (wLast == nil or gL > wLast) then wLast = gL end
      if wFirst ~= nil and wLast ~= nil then noteLo(wLast - wFirst) end
      if pEnd ~= nil then
        local step = wRst - pEnd
        if step >= 1000 and (wLen == nil or step <= wLen * 1.9) then wLen = step end
      end
    elseif pId ~= nil and R == pId then
      -- a late answer from the window before: it still tells how long that one lasted
      if gF ~= nil and (pFSeen == nil or fSeen < pFSeen) then pFirst = gF; pFSeen = fSeen end
      if gL ~= nil and (pLast == nil or gL > pLast) then pLast = gL end
      if pFirst ~= nil and pLast ~= nil then noteLo(pLast - pFirst) end
      if wProv == 1 and wFirst ~= nil and gL ~= nil and gL >= wFirst and used >= lim then
        -- a request sent after we assumed that window over found it still on and spent:
        -- it is the current window again (spent), until its end as now known
        wId, wFirst, wFSeen, wLast, wRst = pId, pFirst, pFSeen, pLast, pEnd
        wLim, wUsed, wProv = lim, used, 0
        pId, pFirst, pFSeen, pLast, pEnd = nil, nil, nil, nil, nil
      end
    elseif (wId == nil and (pId == nil or R > pId)) or (wId ~= nil and R > wId) then
      -- a newer window than any we know
      if wId ~= nil then pId, pFirst, pFSeen, pLast, pEnd = wId, wFirst, wFSeen, wLast, wRst end
      relax()
      if pFSeen == 1 and pFirst ~= nil and gF ~= nil then noteHi(gF - pFirst) end
      if wProv == 1 then
        if used > wUsed then wUsed = used end
      else
        wUsed = used
      end
      wId, wLim, wRst, wProv = R, lim, E, 0
      wFirst, wLast = gF, gL
      if gF ~= nil then wFSeen = fSeen else wFSeen = nil end
      if wFirst ~= nil and wLast ~= nil then noteLo(wLast - wFirst) end
      if pEnd ~= nil then
        local step = wRst - pEnd
        if step >= 1000 and (wLen == nil or step <= wLen * 1.9) then wLen = step end
      end
    end
    -- else: an answer from a window before the previous one; stale, ignored
  end
end
rollover()

-- Pace (see pacing.ts pace()).
local probeAt, endAt = ends()
local int = 60000 / cfgRate
local blockedUntil = 0
local left = -1
local probing = false
if endAt ~= nil and wLim ~= nil then
  left = wLim - wUsed
  if left <= 0 then
    left = 0
    blockedUntil = endAt
    blk = endAt
  elseif probeAt ~= nil and probeAt < endAt then
    probing = true
    if left == 1 then
      if probeAt > now then blockedUntil = probeAt end
    else
      local paced = (probeAt - now) / (left - 1)
      if paced > int then int = paced end
    end
  else
    local paced = (endAt - now) / left
    if paced > int then int = paced end
  end
else
  local len = lengthEstimate() or wLen
  if wLim ~= nil and wLim > 0 and len ~= nil then
    local even = len / wLim
    if even > int then int = even end
  end
end
if pause > now and pause > blockedUntil then blockedUntil = pause end

-- GCRA with a burst of one batch: tokens a caller takes at once are paid for by the
-- callers after it, and grants that came late (a busy event loop, a slow round trip)
-- may catch up by up to one batch, so any stretch of time sees at most
-- rate * time + 2 * batch + 1 grants. After a block (pause, spent window) the first
-- grant goes alone and the rest are paced.
local batch = math.floor(batchMs / int)
if batch > maxBatch then batch = maxBatch end
if batch < 1 then batch = 1 end
local tau = batch * int
local base = tat
if base < now - tau then base = now - tau end
local resumed = pause
if blk > resumed then resumed = blk end
if resumed > 0 and base < resumed + tau - int then base = resumed + tau - int end
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
    wait = endAt - now
  elseif g >= free then
    wait = -1
  elseif laneBound then
    wait = int
  else
    wait = base + (g + 1) * int - tau - now
    -- the window's last token waits for the probe time
    if probing and left - g == 1 and probeAt - now > wait then wait = probeAt - now end
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
  gc = gc + g
elseif blockedUntil > tat then
  tat = blockedUntil
end

local function put(field, v)
  if v == nil then redis.call('HDEL', K, field) else redis.call('HSET', K, field, tostring(v)) end
end
put('tat', tat)
put('gc', gc)
put('wId', wId)
put('wRst', wRst)
put('wLim', wLim)
put('wUsed', wUsed)
put('wProv', wProv)
put('wFirst', wFirst)
put('wFSeen', wFSeen)
put('wLast', wLast)
put('pId', pId)
put('pFirst', pFirst)
put('pFSeen', pFSeen)
put('pLast', pLast)
put('pEnd', pEnd)
put('lenLo', lenLo)
put('lenHi', lenHi)
put('wLen', wLen)
put('phase', phase)
put('roN', roN)
put('blk', blk)
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
local why = 0
if pause > now then
  pauseLeft = pause - now
  why = pWhy
end
local windowLeft = -1
if left >= 0 then windowLeft = left - g end
local wl = -1
if wLim ~= nil then wl = wLim end
local lenOut = lengthEstimate() or wLen or -1
local endIn = -1
if endAt ~= nil then endIn = math.max(0, math.ceil(endAt - now)) end
return { gM, gP, math.ceil(wait), cap, math.ceil(pauseLeft), math.floor(int * 1000), wl, windowLeft, gc, why, math.floor(lenOut), endIn, phase }
`;

/** Pause reasons as the scripts store them. */
export const PAUSE_RATE_LIMIT = 1;
export const PAUSE_READ_ONLY = 2;

/**
 * pause: every process stops granting for this bucket until now + a duration (server
 * clock). Only ever extends a pause. The resume is paced, not a burst (acquire grants
 * the first token after a pause alone).
 *
 * ARGV: 1 ms (rate limit: the clamped reset; read-only: ignored), 2 key TTL ms, 3 reason
 * (1 rate limit, 2 read-only), 4 ms since the answered request was granted (-1 unknown),
 * 5 first read-only pause ms, 6 longest pause ms.
 * Read-only (pacing.ts readOnlyPauseMs): the n-th read-only answer in a row pauses
 * first * 2^(n-1), at most the longest; an answer to a request granted before the
 * streak's latest pause began is the same outage: it changes nothing. roAt holds the
 * middle of that pause (acquire's success reset uses it the same way).
 * Returns { pause left ms, reason of the pause in force, read-only streak }.
 */
export const PAUSE_LUA = `
local K = KEYS[1]
local rel = tonumber(ARGV[1])
local ttl = tonumber(ARGV[2])
local why = tonumber(ARGV[3])
local grantAgo = tonumber(ARGV[4])
local firstMs = tonumber(ARGV[5])
local maxMs = tonumber(ARGV[6])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local f = redis.call('HMGET', K, 'pause', 'pWhy', 'roN', 'roAt')
local p = tonumber(f[1]) or 0
local pWhy = tonumber(f[2]) or 0
local roN = tonumber(f[3]) or 0
local roAt = tonumber(f[4]) or 0
local extend = true
if why == 2 then
  local granted = now
  if grantAgo >= 0 then granted = now - grantAgo end
  if roN == 0 or granted >= roAt then
    roN = roN + 1
    rel = firstMs * 2 ^ (roN - 1)
    if rel > maxMs then rel = maxMs end
    -- nothing is granted while the bucket is paused, so a request granted before the
    -- middle of this pause was sent before it began (the margin absorbs slow commands)
    roAt = now + rel / 2
    redis.call('HSET', K, 'roN', tostring(roN), 'roAt', tostring(roAt))
  else
    extend = false
  end
end
if rel > maxMs then rel = maxMs end
if rel < 0 then rel = 0 end
local u = now + rel
if extend and u > p then
  p = u
  pWhy = why
  redis.call('HSET', K, 'pause', tostring(p), 'pWhy', tostring(pWhy))
end
redis.call('PEXPIRE', K, ttl)
local left = p - now
if left < 0 then left = 0 end
if left == 0 then pWhy = 0 end
return { math.ceil(left), pWhy, roN }
`;
