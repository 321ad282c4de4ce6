{#-
  Data tests of a model that a run rebuilds day by day check the days that run rebuilt, not all
  history, so a daily run's tests cost one day of data (a full build, with no window set, tests
  everything). A model opts in with `meta: {window_column: <its day column>}`; the test reads the
  run's window widened by the largest offset a model rebuilds (two days before, one after).
  Keys stay unique across days: ingestion de-duplicates event ids over all history.
-#}
{% macro duckdb__get_where_subquery(relation) -%}
    {%- set where = config.get('where', '') -%}
    {%- set found = namespace(column=none) -%}
    {%- for node_id in model.depends_on.nodes -%}
        {%- set node = graph.nodes.get(node_id) -%}
        {%- if node and node.alias == relation.identifier and node.schema == relation.schema -%}
            {%- set found.column = node.config.meta.get('window_column') -%}
        {%- endif -%}
    {%- endfor -%}
    {%- set filters = [] -%}
    {%- if where -%}{%- do filters.append('(' ~ where ~ ')') -%}{%- endif -%}
    {%- if found.column and env_var('COSTWATCH_WINDOW_START', '') -%}
        {%- do filters.append(
            found.column ~ ' between ' ~ window_start(-2) ~ ' and ' ~ window_end(1)
        ) -%}
    {%- endif -%}
    {%- if filters -%}
        {%- do return(
            '(select * from ' ~ relation ~ ' where ' ~ filters | join(' and ') ~ ') dbt_subquery'
        ) -%}
    {%- else -%}
        {%- do return(relation) -%}
    {%- endif -%}
{%- endmacro %}
