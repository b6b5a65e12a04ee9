"""The catalog engine keeps its connections open between uses and checks them first."""

from sqlalchemy import text

from sql.db import make_engine


def _backend_pid(engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())


def test_the_catalog_engine_reuses_one_connection_for_sequential_work(database_url):
    engine = make_engine(database_url)
    try:
        assert len({_backend_pid(engine) for _ in range(10)}) == 1
    finally:
        engine.dispose()


def test_a_pooled_connection_the_server_closed_is_replaced_before_use(database_url):
    engine = make_engine(database_url)
    killer = make_engine(database_url)
    try:
        first = _backend_pid(engine)
        with killer.connect() as conn:
            assert conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": first}).scalar()
        assert _backend_pid(engine) != first  # the pre-ping saw it gone; no error reached us
    finally:
        engine.dispose()
        killer.dispose()
