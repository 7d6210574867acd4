-- wrk script: a bare GET (the HTTP floor row: GET /healthz), with the
-- RESULT line bench/run.sh reads.
wrk.method = "GET"

done = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "result.lua")
