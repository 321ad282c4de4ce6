{#-
  Spark: dbt snapshots on Parquet tables. dbt-spark's snapshot needs Delta, Iceberg or Hudi (a
  MERGE); this is its materialization with the merge done the Parquet way: the merged snapshot is
  written to a new table, which then overwrites the snapshot (a table cannot overwrite itself while
  a query reads it). Everything else (strategies, staging, column names) is dbt's.
-#}
{% materialization snapshot, adapter='spark' %}

  {%- set target_table = model.get('alias', model.get('name')) -%}

  {%- set strategy_name = config.get('strategy') -%}
  {%- set unique_key = config.get('unique_key') %}
    {%- set grant_config = config.get('grants') -%}

  {% set target_relation_exists, target_relation = get_or_create_relation(
          database=none,
          schema=model.schema,
          identifier=target_table,
          type='table') -%}

  {% if not adapter.check_schema_exists(model.database, model.schema) %}
    {% do create_schema(model.schema) %}
  {% endif %}

  {%- if not target_relation.is_table -%}
    {% do exceptions.relation_wrong_type(target_relation, 'table') %}
  {%- endif -%}

  {{ run_hooks(pre_hooks, inside_transaction=False) }}

  {{ run_hooks(pre_hooks, inside_transaction=True) }}

  {% set strategy_macro = strategy_dispatch(strategy_name) %}
  {% set strategy = strategy_macro(model, "snapshotted_data", "source_data", model['config'], target_relation_exists) %}

  {% if not target_relation_exists %}

      {% set build_sql = build_snapshot_table(strategy, model['compiled_code']) %}
      {% set final_sql = create_table_as(False, target_relation, build_sql) %}

  {% else %}

      {% set columns = config.get("snapshot_table_column_names") or get_snapshot_table_column_names() %}

      {{ adapter.valid_snapshot_target(target_relation, columns) }}

      {% set staging_table = spark_build_snapshot_staging_table(strategy, sql, target_relation) %}

      -- this may no-op if the database does not require column expansion
      {% do adapter.expand_target_column_types(from_relation=staging_table,
                                               to_relation=target_relation) %}

      {% set missing_columns = adapter.get_missing_columns(staging_table, target_relation)
                                   | rejectattr('name', 'equalto', 'dbt_change_type')
                                   | rejectattr('name', 'equalto', 'DBT_CHANGE_TYPE')
                                   | rejectattr('name', 'equalto', 'dbt_unique_key')
                                   | rejectattr('name', 'equalto', 'DBT_UNIQUE_KEY')
                                   | list %}

      {% do create_columns(target_relation, missing_columns) %}

      {% set source_columns = adapter.get_columns_in_relation(staging_table)
                                   | rejectattr('name', 'equalto', 'dbt_change_type')
                                   | rejectattr('name', 'equalto', 'DBT_CHANGE_TYPE')
                                   | rejectattr('name', 'equalto', 'dbt_unique_key')
                                   | rejectattr('name', 'equalto', 'DBT_UNIQUE_KEY')
                                   | list %}

      {% set quoted_source_columns = [] %}
      {% for column in source_columns %}
        {% do quoted_source_columns.append(adapter.quote(column.name)) %}
      {% endfor %}

      {% set final_sql = parquet_snapshot_merge(target_relation, staging_table) %}

  {% endif %}

  {% call statement('main') %}
      {{ final_sql }}
  {% endcall %}

  {% set should_revoke = should_revoke(target_relation_exists, full_refresh_mode) %}
  {% do apply_grants(target_relation, grant_config, should_revoke) %}

  {% do persist_docs(target_relation, model) %}

  {{ run_hooks(post_hooks, inside_transaction=True) }}

  {{ adapter.commit() }}

  {% if staging_table is defined %}
      {% do post_snapshot(staging_table) %}
      {% do run_query('drop table if exists ' ~ target_relation.incorporate(
            path={"identifier": target_relation.identifier ~ '__dbt_merged'})) %}
  {% endif %}

  {{ run_hooks(post_hooks, inside_transaction=False) }}

  {{ return({'relations': [target_relation]}) }}

{% endmaterialization %}


{#- The snapshot after a run: current versions closed by updates and deletes, plus new versions. -#}
{% macro parquet_snapshot_merge(target, staging) -%}
    {%- set names = config.get("snapshot_table_column_names") or get_snapshot_table_column_names() -%}
    {%- set columns = adapter.get_columns_in_relation(target) | map(attribute='name') | list -%}
    {%- set merged = target.incorporate(path={"identifier": target.identifier ~ '__dbt_merged'}) -%}
    {%- set kept = [] -%}
    {%- for c in columns -%}
        {%- if c == names.dbt_valid_to -%}
            {%- do kept.append('coalesce(closed.' ~ c ~ ', current_rows.' ~ c ~ ') as ' ~ c) -%}
        {%- else -%}
            {%- do kept.append('current_rows.' ~ c) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- do run_query('drop table if exists ' ~ merged) -%}
    {%- call statement('parquet_snapshot_merged') -%}
        create table {{ merged }} using parquet as
        select {{ kept | join(', ') }}
        from {{ target }} as current_rows
        left join (
            select {{ names.dbt_scd_id }}, {{ names.dbt_valid_to }} from {{ staging }}
            where dbt_change_type in ('update', 'delete')
        ) as closed
            on current_rows.{{ names.dbt_scd_id }} = closed.{{ names.dbt_scd_id }}
            and current_rows.{{ names.dbt_valid_to }} is null
        union all
        select {{ columns | join(', ') }} from {{ staging }}
        where dbt_change_type = 'insert'
    {%- endcall -%}
    {{ return('insert overwrite table ' ~ target ~ ' select ' ~ (columns | join(', '))
              ~ ' from ' ~ merged) }}
{%- endmacro %}
