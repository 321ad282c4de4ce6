"""The metastore service's audit log read back (sources/spark/metastore.py): lines as the service
wrote them in the cluster test (tab-separated fields after log4j's prefix)."""

from sources.spark.metastore import audited_calls

LOG = (
    "Using Spark's default log4j profile: org/apache/spark/log4j2-defaults.properties\n"
    "metastore: serving\n"
    "26/12/04 06:04:26 INFO audit: ugi=root\tip=127.0.0.1\tcmd=source:127.0.0.1 get_table : "
    "db=raw tbl=t\t\n"
    "26/12/04 06:04:26 INFO audit: ugi=root\tip=127.0.0.1\tcmd=Cleaning up thread local "
    "RawStore...\t\n"
    "26/12/04 06:04:27 INFO audit: ugi=root\tip=127.0.0.1\tcmd=source:127.0.0.1 create_table: "
    "Table(tableName:t, dbName:raw, owner:root)\t\n"
    "26/12/04 06:04:27 WARN ObjectStore: Failed to get database global_temp\n"
)


def test_each_call_with_its_clients_address_in_order(tmp_path):
    log = tmp_path / "metastore.log"
    log.write_text(LOG)
    assert audited_calls(log) == [
        ("127.0.0.1", "get_table : db=raw tbl=t"),
        ("127.0.0.1", "create_table: Table(tableName:t, dbName:raw, owner:root)"),
    ]


def test_a_log_with_no_calls_gives_none(tmp_path):
    log = tmp_path / "metastore.log"
    log.write_text("metastore: serving\n")
    assert audited_calls(log) == []
