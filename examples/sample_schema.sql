-- A small schema with the awkward cases a real database has: mixed-case and quoted names, NULLs,
-- unconstrained numerics, infinities, arrays, JSON, network types, skewed keys. Used by `make demo`.
CREATE SCHEMA IF NOT EXISTS "Sales";

CREATE TABLE public.customers (
    id          bigint PRIMARY KEY,
    name        text NOT NULL,
    email       text,
    signed_up   date,
    balance     numeric(12, 2),
    tags        text[],
    profile     jsonb,
    last_ip     inet
);
INSERT INTO public.customers
SELECT i,
       'Customer ' || i || CASE WHEN i % 7 = 0 THEN ' 🎉' ELSE '' END,
       CASE WHEN i % 5 = 0 THEN NULL ELSE 'c' || i || '@example.com' END,
       CASE WHEN i = 1 THEN 'infinity'::date WHEN i = 2 THEN '-infinity'::date
            ELSE date '2020-01-01' + (i % 1500) END,
       round((i * 37.13)::numeric % 10000, 2),
       ARRAY['tier-' || (i % 3), CASE WHEN i % 2 = 0 THEN 'even' END],
       jsonb_build_object('visits', i % 17, 'vip', i % 11 = 0),
       ('10.0.' || (i % 256) || '.' || (i % 200))::inet
FROM generate_series(1, 2000) AS i;

CREATE TABLE public.orders (
    id          bigint PRIMARY KEY,
    customer_id bigint REFERENCES public.customers (id),
    amount      numeric,                 -- unconstrained: Spark's default would round or fail
    placed_at   timestamptz,
    ships_in    interval,
    pickup_time time(6),
    status      text
);
INSERT INTO public.orders
SELECT i,
       CASE WHEN i % 50 = 0 THEN NULL ELSE 1 + (i % 2000) END,
       CASE WHEN i = 1 THEN 123456789012345678901234567890.123456789::numeric
            WHEN i = 2 THEN 'NaN'::numeric
            WHEN i = 3 THEN 0.000000000000000000001
            ELSE (i % 1000) + 0.99 END,
       CASE WHEN i = 4 THEN 'infinity'::timestamptz
            ELSE timestamptz '2024-01-01 00:00:00+00' + i * interval '37 minutes' END,
       make_interval(days => i % 10, hours => i % 24),
       time '08:00:00.123456' + (i % 600) * interval '1 minute',
       (ARRAY['new', 'paid', 'shipped', 'returned'])[1 + i % 4]
FROM generate_series(1, 20000) AS i;

CREATE TABLE "Sales"."Daily Totals" (
    "Day"        date,
    "Region"     text,
    "Total $"    money,
    "Flags"      bit(4),
    "Matrix"     integer[][]
);
INSERT INTO "Sales"."Daily Totals"
SELECT date '2024-01-01' + d,
       (ARRAY['EMEA', 'AMER', 'APAC'])[1 + d % 3],
       (d * 1000.5)::numeric::money,
       (d % 16)::bit(4),
       ARRAY[[d, d + 1], [d + 2, d + 3]]
FROM generate_series(0, 89) AS d;
INSERT INTO "Sales"."Daily Totals" VALUES (NULL, NULL, NULL, NULL, NULL);

ANALYZE;
