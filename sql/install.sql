-- Installing pgpriv: schema, wrapper, identity, and a comment on every object.
CREATE EXTENSION pgpriv;

-- The identity is made at install: one active X25519 pair, one Ed25519 pair.
SELECT length(public_key) AS public_key_bytes,
       fingerprint ~ '^([0-9a-f]{4}:){7}[0-9a-f]{4}$' AS fingerprint_ok
  FROM pgpriv.identity();

SELECT count(*) AS active_identities,
       bool_and(pgpriv._x25519_public_key(secret_key) = public_key) AS x25519_consistent,
       bool_and(pgpriv._signing_public_key(sign_secret_key) = sign_public_key) AS ed25519_consistent
  FROM pgpriv.identity_keys WHERE retired_at IS NULL;

SELECT (SELECT public_key FROM pgpriv.identity()) = public_key AS card_matches_identity,
       length(signing_key) AS signing_key_bytes
  FROM pgpriv.identity_card();

-- Rotation retires the old pair and makes a new one.
CREATE TEMP TABLE before_rotation AS SELECT public_key FROM pgpriv.identity();
SELECT (SELECT public_key FROM before_rotation) <> public_key AS changed
  FROM pgpriv.rotate_identity();
SELECT count(*) FILTER (WHERE retired_at IS NULL) AS active,
       count(*) FILTER (WHERE retired_at IS NOT NULL) AS retired
  FROM pgpriv.identity_keys;

-- Objects of the extension without a COMMENT (should be none).
SELECT pg_describe_object(d.classid, d.objid, 0) AS uncommented
  FROM pg_depend AS d
 WHERE d.refclassid = 'pg_extension'::regclass
   AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'pgpriv')
   AND d.deptype = 'e'
   AND d.classid <> 'pg_type'::regclass
   AND NOT EXISTS (SELECT FROM pg_description AS c
                    WHERE c.objoid = d.objid AND c.classoid = d.classid AND c.objsubid = 0)
 ORDER BY 1;

-- SECURITY DEFINER functions must pin search_path.
SELECT p.oid::regprocedure AS definer_without_search_path
  FROM pg_proc AS p
 WHERE p.pronamespace = 'pgpriv'::regnamespace AND p.prosecdef
   AND NOT coalesce(p.proconfig @> ARRAY['search_path=pg_catalog, pg_temp'], false)
 ORDER BY 1;

-- What every role (PUBLIC) may execute: pure primitives, identity, and
-- functions that check the caller themselves.
SELECT p.proname AS public_function, p.prosecdef AS security_definer
  FROM pg_proc AS p
 WHERE p.pronamespace = 'pgpriv'::regnamespace
   AND (p.proacl IS NULL
        OR EXISTS (SELECT FROM aclexplode(p.proacl) AS a
                    WHERE a.grantee = 0 AND a.privilege_type = 'EXECUTE'))
 ORDER BY 1;
