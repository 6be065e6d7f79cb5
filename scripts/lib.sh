# shellcheck shell=bash disable=SC2034  # globals here are read by the scripts that source it
# Shared helpers for cfgen's deploy scripts. Sourced, never executed.
#
# Environment honoured by every script (the AWS CLI reads them too):
#   AWS_PROFILE       named profile for credentials
#   AWS_REGION        region (passed to the CLI as --region; falls back to the
#                     CLI's own AWS_DEFAULT_REGION / profile configuration)
#   AWS_ENDPOINT_URL  send every call to this endpoint (a local emulator);
#                     passed to the CLI as --endpoint-url
#   CFGEN_POLL_SECONDS  seconds between status polls while waiting (default 5)

# The calling script sets PROG before sourcing.
: "${PROG:=cfgen}"
export AWS_PAGER=""

# usage_error MESSAGE: bad input -> one line on stderr, exit 2.
usage_error() {
    printf '%s: %s\n' "$PROG" "$1" >&2
    exit 2
}

# die MESSAGE: a runtime failure -> one line on stderr, exit 1.
die() {
    printf '%s: %s\n' "$PROG" "$1" >&2
    exit 1
}

# log MESSAGE: progress on stderr, so stdout stays machine-readable.
log() {
    printf '%s\n' "$*" >&2
}

# print_help: the comment block at the top of the calling script, up to `set -euo`.
print_help() {
    sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
}

# need_value OPTION ARGC: the option needs a value.
need_value() {
    [[ "$2" -ge 2 ]] || usage_error "$1: needs a value"
}

# check_stack_name NAME: CloudFormation's rule for stack names.
check_stack_name() {
    [[ "$1" =~ ^[A-Za-z][A-Za-z0-9-]{0,127}$ ]] ||
        usage_error "--stack-name: '$1' is not a stack name (a letter, then letters, digits or -, at most 128)"
}

# check_int_range OPTION VALUE MIN MAX: a whole number within [MIN, MAX].
check_int_range() {
    local opt=$1 value=$2 min=$3 max=$4
    if [[ ! "$value" =~ ^[0-9]{1,9}$ ]] || ((10#$value < min || 10#$value > max)); then
        usage_error "$opt: '$value' is not a whole number from $min to $max"
    fi
}

poll_seconds() {
    local s="${CFGEN_POLL_SECONDS:-5}"
    [[ "$s" =~ ^[0-9]+([.][0-9]+)?$ ]] ||
        usage_error "CFGEN_POLL_SECONDS: '$s' is not a number of seconds"
    printf '%s' "$s"
}

# awscli ARGS...: the AWS CLI with the region and endpoint from the environment.
awscli() {
    local -a extra=()
    if [[ -n "${AWS_REGION:-}" ]]; then extra+=(--region "$AWS_REGION"); fi
    if [[ -n "${AWS_ENDPOINT_URL:-}" ]]; then extra+=(--endpoint-url "$AWS_ENDPOINT_URL"); fi
    aws "${extra[@]}" "$@"
}

# require_aws_cli: the checks every script makes once its arguments are valid
# (run at top level, so a bad setting exits the script, not a subshell).
require_aws_cli() {
    poll_seconds >/dev/null
    command -v aws >/dev/null 2>&1 ||
        die "the AWS CLI ('aws') is not on PATH: pip install awscli, or put .venv/bin on PATH"
}

# stack_status STACK: the status, or the empty string if the stack does not exist.
stack_status() {
    local out
    if out="$(awscli cloudformation describe-stacks --stack-name "$1" \
        --query 'Stacks[0].StackStatus' --output text 2>&1)"; then
        printf '%s' "$out"
    elif [[ "$out" == *"does not exist"* ]]; then
        printf ''
    else
        die "describe-stacks $1 failed: $(printf '%s' "$out" | tr '\n' ' ')"
    fi
}

# stack_output STACK KEY: one output value; fails if the stack has no such output.
stack_output() {
    local value
    if ! value="$(awscli cloudformation describe-stacks --stack-name "$1" \
        --query "Stacks[0].Outputs[?OutputKey=='$2'].OutputValue | [0]" --output text 2>&1)"; then
        die "cannot read the outputs of stack $1: $(cli_error "$value")"
    fi
    value="$(printf '%s' "$value" | tail -n 1)"
    [[ -n "$value" && "$value" != "None" ]] || die "stack $1 has no output $2"
    printf '%s' "$value"
}

# stack_outputs STACK KEY...: the values of several outputs, one per line, in
# order (one API call); fails if any is missing.
stack_outputs() {
    local stack=$1 query="" key out value i=0
    shift
    for key in "$@"; do
        query+="${query:+, }Outputs[?OutputKey=='$key'].OutputValue | [0]"
    done
    if ! out="$(awscli cloudformation describe-stacks --stack-name "$stack" \
        --query "Stacks[0].[$query]" --output text 2>&1)"; then
        die "cannot read the outputs of stack $stack: $(cli_error "$out")"
    fi
    out="$(printf '%s' "$out" | tail -n 1)"
    for key in "$@"; do
        i=$((i + 1))
        value="$(printf '%s' "$out" | cut -f "$i")"
        [[ -n "$value" && "$value" != "None" ]] || die "stack $stack has no output $key"
        printf '%s\n' "$value"
    done
}

# print_outputs STACK: "Key<TAB>Value" lines on stdout.
print_outputs() {
    awscli cloudformation describe-stacks --stack-name "$1" \
        --query 'Stacks[0].Outputs[].[OutputKey,OutputValue]' --output text
}

# newest_event_id STACK: the id of the newest stack event (empty if none).
newest_event_id() {
    local id
    id="$(awscli cloudformation describe-stack-events --stack-name "$1" --max-items 1 \
        --query 'StackEvents[0].EventId' --output text 2>/dev/null | head -n 1)" || true
    [[ "$id" == "None" ]] && id=""
    printf '%s' "$id"
}

# FAILED_EVENTS collects "LogicalId (Type): reason" of *_FAILED events seen by
# stream_events, for the failure report.
FAILED_EVENTS=()

# _print_new_events STACK LAST_SEEN_ID: print (stderr) the events newer than
# LAST_SEEN_ID, oldest first; sets LAST_EVENT_ID to the newest one printed.
LAST_EVENT_ID=""
_print_new_events() {
    local stack=$1 last=$2 rows line id ts status type logical reason
    local -a fresh=()
    rows="$(awscli cloudformation describe-stack-events --stack-name "$stack" --max-items 100 \
        --query 'StackEvents[].[EventId,Timestamp,ResourceStatus,ResourceType,LogicalResourceId,ResourceStatusReason]' \
        --output text 2>/dev/null)" || return 0
    while IFS= read -r line; do
        [[ -z "$line" || "$line" == None* ]] && continue
        id="${line%%$'\t'*}"
        [[ -n "$last" && "$id" == "$last" ]] && break
        fresh+=("$line")
    done <<<"$rows"
    local i
    for ((i = ${#fresh[@]} - 1; i >= 0; i--)); do
        IFS=$'\t' read -r id ts status type logical reason <<<"${fresh[i]}"
        [[ "$reason" == "None" ]] && reason=""
        printf '%s  %-28s %-34s %s%s\n' "$ts" "$status" "$logical" "$type" "${reason:+  $reason}" >&2
        if [[ "$status" == *_FAILED ]]; then
            FAILED_EVENTS+=("$logical ($type): ${reason:-no reason given}")
        fi
    done
    if ((${#fresh[@]})); then
        LAST_EVENT_ID="${fresh[0]%%$'\t'*}"
    fi
}

# listed_stack_status STACK_ID: the status from ListStacks, which also lists
# deleted stacks. Used while deleting: describe-stacks of a deleted stack makes
# moto evaluate its outputs again, which re-creates resources (docs/moto-notes.md).
listed_stack_status() {
    local out
    out="$(awscli cloudformation list-stacks \
        --query "StackSummaries[?StackId=='$1'].StackStatus | [0]" --output text)" ||
        die "list-stacks failed"
    [[ "$out" == "None" ]] && out=""
    printf '%s' "$out"
}

# wait_for_stack STACK_OR_ID LAST_SEEN_ID TIMEOUT_S [STATUS_FUNCTION]: stream
# events until the status is no longer *_IN_PROGRESS (or the timeout); sets
# STACK_FINAL_STATUS. STATUS_FUNCTION defaults to stack_status.
# Not for use in $(...): the failed events it collects must reach report_failures.
STACK_FINAL_STATUS=""
wait_for_stack() {
    local stack=$1 timeout=$3 status_of=${4:-stack_status} status start poll
    LAST_EVENT_ID=$2
    poll="$(poll_seconds)"
    start=$SECONDS
    while :; do
        # Status first, then events: the last round prints every event up to
        # the final status.
        status="$("$status_of" "$stack")"
        _print_new_events "$stack" "$LAST_EVENT_ID"
        case "$status" in
        *_IN_PROGRESS | CREATE_PENDING) ;;
        *)
            STACK_FINAL_STATUS=$status
            return 0
            ;;
        esac
        if ((SECONDS - start >= timeout)); then
            STACK_FINAL_STATUS=$status
            return 0
        fi
        sleep "$poll"
    done
}

# report_failures STACK: each failed resource with its reason, on stderr.
report_failures() {
    local stack=$1 line
    if ((${#FAILED_EVENTS[@]} == 0)); then
        # Not seen while streaming (e.g. we attached late): look them up.
        while IFS=$'\t' read -r logical type reason; do
            [[ -z "$logical" || "$logical" == "None" ]] && continue
            FAILED_EVENTS+=("$logical ($type): ${reason:-no reason given}")
        done < <(awscli cloudformation describe-stack-events --stack-name "$stack" --max-items 100 \
            --query "StackEvents[?ends_with(ResourceStatus, '_FAILED')].[LogicalResourceId,ResourceType,ResourceStatusReason]" \
            --output text 2>/dev/null || true)
    fi
    if ((${#FAILED_EVENTS[@]} == 0)); then
        log "no failed resource events recorded for $stack"
        return 0
    fi
    log "failed resources:"
    for line in "${FAILED_EVENTS[@]}"; do
        log "  $line"
    done
}

# json_string VALUE: VALUE as a JSON string literal (quotes included).
json_string() {
    local s=$1
    s=${s//\\/\\\\}
    s=${s//\"/\\\"}
    s=${s//$'\n'/\\n}
    s=${s//$'\r'/\\r}
    s=${s//$'\t'/\\t}
    printf '"%s"' "$s"
}

# default_python: $CFGEN_PYTHON, else the repository's .venv, else python3.
default_python() {
    local here
    here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
    if [[ -n "${CFGEN_PYTHON:-}" ]]; then
        printf '%s' "$CFGEN_PYTHON"
    elif [[ -x "$here/../.venv/bin/python" ]]; then
        printf '%s' "$here/../.venv/bin/python"
    else
        printf 'python3'
    fi
}

# cli_error OUTPUT: the useful last line of a failed AWS CLI call's output.
cli_error() {
    local out=$1
    if [[ "$out" == *"500 Internal Server Error"* ]]; then
        printf 'the endpoint answered HTTP 500 (an internal error of the service or emulator)'
    else
        printf '%s' "$out" | grep -v '^[[:space:]]*$' | tail -n 1
    fi
}
