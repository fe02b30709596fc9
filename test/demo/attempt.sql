-- pg_temp.attempt(query): runs query and returns its SQLSTATE and message
-- instead of raising, so that the demo goes on after a refusal and shows
-- what the analyst would see ('00000', 'allowed' if it ran).  Included
-- with \ir by the scripts that show a refusal.
CREATE FUNCTION pg_temp.attempt(query text) RETURNS TABLE(sqlstate text, message text)
  LANGUAGE plpgsql AS $$
  BEGIN
    EXECUTE query;
    RETURN QUERY SELECT '00000'::text, 'allowed'::text;
  EXCEPTION WHEN OTHERS THEN
    RETURN QUERY SELECT SQLSTATE::text, SQLERRM::text;
  END
  $$;

-- pg_temp.fail(message): stops the demo (ON_ERROR_STOP) with message.
CREATE FUNCTION pg_temp.fail(message text) RETURNS void
  LANGUAGE plpgsql AS $$
  BEGIN
    RAISE EXCEPTION '%', message;
  END
  $$;
