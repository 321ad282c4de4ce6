{#-
  Data tests of a model that a run rebuilds day by day check the days that run rebuilt, not all
  history, so a daily run's tests cost one day of data (a full build, with no window set, tests
  everything). The days are the tested model's own declared window (`config.meta.window` in its
  YAML, see window.sql). Keys stay unique across days: ingestion de-duplicates event ids over all
  history.
-#}
{% macro duckdb__get_where_subquery(relation) -%}
    {%- set where = config.get('where', '') -%}
    {%- set found = namespace(spec=none) -%}
    {%- for node_id in model.depends_on.nodes -%}
        {%- set node = graph.nodes.get(node_id) -%}
        {%- if node and node.alias == relation.identifier and node.schema == relation.schema -%}
            {%- set found.spec = model_window(node) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- set filters = [] -%}
    {%- if where -%}{%- do filters.append('(' ~ where ~ ')') -%}{%- endif -%}
    {%- if found.spec and env_var('COSTWATCH_WINDOW_START', '') -%}
        {%- do filters.append(
            found.spec['column'] ~ ' between ' ~ window_first_day(found.spec)
            ~ ' and ' ~ window_end(found.spec.get('days_after', 0))
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
