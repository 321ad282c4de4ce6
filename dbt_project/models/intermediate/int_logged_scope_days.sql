{#-
  The API keys and projects the application logged LLM calls with, per UTC day: a few rows a day.
  The parity marts' default scope, what the application has ever logged (parity_daily's keys,
  cost_parity_daily's projects), reads these instead of every interaction of the history. Rebuilt
  by window with interactions and never archived, so a key or project of a day the archive moved
  stays in scope, on DuckDB as on Spark (whose lake keeps every day of interactions). Its first
  build reads the archived interactions too.
-#}
{{ window_rebuilt() }}

{%- set archived = none if is_incremental() else archived_relation('interactions') %}

with

active as (
    select
        interaction_day,
        provider,
        project_id,
        api_key_id
    from {{ ref('interactions') }}
    where interaction_type = 'llm_call'
    {%- if is_incremental() %}
        and {{ in_window() }}
    {%- endif %}
),

final as (
    select distinct
        interaction_day,
        provider,
        project_id,
        api_key_id
    from active
    {%- if archived is not none %}
        union
        select
            interaction_day,
            provider,
            project_id,
            api_key_id
        from {{ archived }}
        where interaction_type = 'llm_call'
    {%- endif %}
)

select * from final
