-- bench/profile: the purge statement by hand (with FOR UPDATE SKIP LOCKED)
SELECT bench_raw.purge_raw(10000, true);
