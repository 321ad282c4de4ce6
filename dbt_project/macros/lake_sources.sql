{#
  On Spark the sources (the raw.* tables the Dagster assets write) are Parquet folders under
  COSTWATCH_LAKE, copied there before each build (sources/spark/lake.py). Each build declares them
  in the catalog again, so a column added to a raw table is seen; the tables are external (they
  have a location), so dropping one never deletes its files. DuckDB reads its own tables: nothing.
#}
{% macro declare_lake_sources() -%}
  {{ return(adapter.dispatch('declare_lake_sources', 'costwatch')()) }}
{%- endmacro %}

{% macro default__declare_lake_sources() -%}
  select 1
{%- endmacro %}

{% macro spark__declare_lake_sources() -%}
  {%- if execute -%}
    {%- set lake = env_var('COSTWATCH_LAKE', '../data/lake') -%}
    {%- set schemas = [] -%}
    {%- for source in graph.sources.values() | sort(attribute='unique_id') -%}
      {%- if source.schema not in schemas -%}
        {%- do schemas.append(source.schema) -%}
        {%- do run_query('create database if not exists ' ~ source.schema) -%}
      {%- endif -%}
      {%- set name = source.schema ~ '.' ~ source.identifier -%}
      {%- do run_query('drop table if exists ' ~ name) -%}
      {%- do run_query(
        "create table " ~ name ~ " using parquet location '"
        ~ lake ~ "/" ~ source.schema ~ "/" ~ source.identifier ~ "'"
      ) -%}
    {%- endfor -%}
  {%- endif -%}
  select 1
{%- endmacro %}
