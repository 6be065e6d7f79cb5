#!/usr/bin/env bash
# Create or update a cfgen stack, streaming its events until it settles.
#
#   scripts/deploy.sh [--stack-name NAME] [--template FILE | --cfgen-profile NAME]
#                     [--vpc-id VPC] [--subnet-ids SUBNET,SUBNET...]
#                     [--param Key=Value]... [Key=Value]... [--timeout SECONDS]
#                     [--require-approval never|replacement|broadening|any-change]
#
#   --stack-name NAME    stack to create or update (default: $CFGEN_STACK_NAME or "batch")
#   --template FILE      deploy this template; default: render one with
#                        `python -m cfgen --profile PROFILE -o TMPFILE`
#   --cfgen-profile NAME profile to render (default: default); not with --template
#   --vpc-id, --subnet-ids  network for VpcId / SubnetIds. When neither is given
#                        on create, the region's default VPC and its default
#                        subnets are used; on update the stack keeps its values.
#   --param Key=Value, Key=Value  a stack parameter (repeatable). On update, every
#                        parameter you do not give keeps its previous value.
#   --timeout SECONDS    give up waiting after this long (default 3600)
#   --require-approval LEVEL  when to ask before executing (default replacement):
#                        never; replacement: a resource is replaced or removed, or
#                        running jobs are interrupted; broadening: that, or IAM /
#                        security-group access is broadened (new roles included);
#                        any-change: every change.
#
# Every deploy, the first one too, goes through a change set: deploy.sh creates
# it (CREATE or UPDATE, --capabilities CAPABILITY_IAM), prints `cfgen plan` of it
# on stderr, asks "Execute ...? [y/N]" on the terminal when the level requires
# approval, and executes exactly that change set. Without a terminal (CI) a plan
# that needs approval is refused. A refused plan deletes its change set (and a
# new stack's empty REVIEW_IN_PROGRESS stack) and leaves the stack untouched:
# exit 3. An update with no changes is not an error. Progress (stack events) goes to stderr; at the end
# the stack outputs are printed on stdout as "Key<TAB>Value" lines. On failure
# each failed resource is printed with its reason and the exit code is 1.
# Bad arguments: one line on stderr, exit 2.
#
# Environment: AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL (e.g. a local emulator
# from scripts/local-aws.sh), CFGEN_PYTHON (to render), CFGEN_POLL_SECONDS.
set -euo pipefail

PROG=deploy.sh
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

stack="${CFGEN_STACK_NAME:-batch}"
template=""
cfgen_profile=""
vpc_id=""
subnet_ids=""
timeout=3600
require_approval=replacement
declare -a param_keys=()
declare -A params=()

add_param() {
    local kv=$1 key value
    [[ "$kv" == *=* ]] || usage_error "--param: '$kv' is not Key=Value"
    key="${kv%%=*}"
    value="${kv#*=}"
    [[ "$key" =~ ^[A-Za-z0-9]{1,255}$ ]] ||
        usage_error "--param: key '$key' is not a parameter name (letters and digits)"
    [[ -n "${params[$key]+x}" ]] || param_keys+=("$key")
    params[$key]="$value"
}

while (($#)); do
    case "$1" in
    -h | --help)
        print_help
        exit 0
        ;;
    --stack-name)
        need_value "$1" $#
        stack=$2
        shift 2
        ;;
    --template)
        need_value "$1" $#
        template=$2
        shift 2
        ;;
    --cfgen-profile)
        need_value "$1" $#
        cfgen_profile=$2
        shift 2
        ;;
    --vpc-id)
        need_value "$1" $#
        vpc_id=$2
        shift 2
        ;;
    --subnet-ids)
        need_value "$1" $#
        subnet_ids=$2
        shift 2
        ;;
    --param)
        need_value "$1" $#
        add_param "$2"
        shift 2
        ;;
    --timeout)
        need_value "$1" $#
        check_int_range --timeout "$2" 1 86400
        timeout=$2
        shift 2
        ;;
    --require-approval)
        need_value "$1" $#
        case "$2" in
        never | replacement | broadening | any-change) require_approval=$2 ;;
        *) usage_error "--require-approval: '$2' is not one of never, replacement, broadening, any-change" ;;
        esac
        shift 2
        ;;
    -*) usage_error "unknown option '$1' (see --help)" ;;
    *=*)
        add_param "$1"
        shift
        ;;
    *) usage_error "unexpected argument '$1': parameters are Key=Value (see --help)" ;;
    esac
done

check_stack_name "$stack"
if [[ -n "$template" && -n "$cfgen_profile" ]]; then
    usage_error "--cfgen-profile: '$cfgen_profile' cannot be used with --template (the template is already rendered)"
fi
if [[ -n "$template" && ! -r "$template" ]]; then
    usage_error "--template: '$template' is not a readable file"
fi
if [[ -n "$vpc_id" && ! "$vpc_id" =~ ^vpc-[0-9a-f]+$ ]]; then
    usage_error "--vpc-id: '$vpc_id' is not a VPC id (vpc-...)"
fi
if [[ -n "$subnet_ids" && ! "$subnet_ids" =~ ^subnet-[0-9a-f]+(,subnet-[0-9a-f]+)*$ ]]; then
    usage_error "--subnet-ids: '$subnet_ids' is not a comma-separated list of subnet ids (subnet-...)"
fi
for key in VpcId SubnetIds; do
    if [[ -n "${params[$key]+x}" ]]; then
        usage_error "--param: give $key with --vpc-id / --subnet-ids, not as $key=..."
    fi
done
workdir="$(mktemp -d)"
trap 'rm -rf "$workdir"' EXIT

# --- the template (rendered before any AWS call: a bad profile is bad input) ---
if [[ -z "$template" ]]; then
    template="$workdir/cloudformation.yaml"
    py="$(default_python)"
    set +e
    render_error="$("$py" -m cfgen --profile "${cfgen_profile:-default}" -o "$template" 2>&1 >/dev/null)"
    render_rc=$?
    set -e
    if ((render_rc == 2)); then
        usage_error "--cfgen-profile: ${render_error#cfgen: error: }"
    elif ((render_rc != 0)); then
        die "rendering the '${cfgen_profile:-default}' profile failed (python -m cfgen): ${render_error//$'\n'/ }"
    fi
    log "rendered the '${cfgen_profile:-default}' profile with $py -m cfgen"
fi
require_aws_cli
size=$(wc -c <"$template")
if ((size > 51200)); then
    die "template $template is $size bytes; --template-body accepts at most 51200 (upload it to S3 and use the console or --template-url)"
fi

if ! template_keys="$(awscli cloudformation get-template-summary --template-body "file://$template" \
    --query 'Parameters[].ParameterKey' --output text 2>&1)"; then
    die "could not read the parameters of $template: $(cli_error "$template_keys")"
fi
template_keys="$(tail -n 1 <<<"$template_keys")"
[[ "$template_keys" == "None" ]] && template_keys=""
declare -A in_template=()
for key in $template_keys; do in_template[$key]=1; done
for key in "${param_keys[@]}"; do
    [[ -n "${in_template[$key]+x}" ]] ||
        usage_error "--param: '$key' is not a parameter of $template (it has: $template_keys)"
done

# --- create or update ----------------------------------------------------------
status="$(stack_status "$stack")"
case "$status" in
"" | REVIEW_IN_PROGRESS) action=create ;; # REVIEW_IN_PROGRESS: a new stack whose change set was never executed
CREATE_COMPLETE | UPDATE_COMPLETE | UPDATE_ROLLBACK_COMPLETE | IMPORT_COMPLETE | IMPORT_ROLLBACK_COMPLETE)
    action=update
    ;;
ROLLBACK_COMPLETE | ROLLBACK_FAILED | CREATE_FAILED | DELETE_FAILED)
    die "stack $stack is $status (its creation or deletion failed): remove it with scripts/destroy.sh --stack-name $stack, then deploy again"
    ;;
*) die "stack $stack is $status: wait until its current operation finishes" ;;
esac

declare -A previous=()
if [[ "$action" == update ]]; then
    for key in $(awscli cloudformation describe-stacks --stack-name "$stack" \
        --query 'Stacks[0].Parameters[].ParameterKey' --output text); do
        previous[$key]=1
    done
fi

# Network: given, kept (update), or the default VPC (create).
if [[ -n "${in_template[VpcId]+x}" || -n "${in_template[SubnetIds]+x}" ]]; then
    if [[ -z "$vpc_id" && -n "$subnet_ids" ]]; then
        vpc_id="$(awscli ec2 describe-subnets --subnet-ids "${subnet_ids%%,*}" \
            --query 'Subnets[0].VpcId' --output text)" || die "could not look up subnet ${subnet_ids%%,*}"
    fi
    if [[ -z "$vpc_id" && -z "${previous[VpcId]+x}" ]]; then
        vpc_id="$(awscli ec2 describe-vpcs --filters Name=is-default,Values=true \
            --query 'Vpcs[0].VpcId' --output text)" || die "could not look up the default VPC"
        [[ "$vpc_id" != "None" && -n "$vpc_id" ]] ||
            die "this region has no default VPC: pass --vpc-id and --subnet-ids"
        log "using the default VPC $vpc_id"
    fi
    if [[ -n "$vpc_id" && -z "$subnet_ids" ]]; then
        subnet_ids="$(awscli ec2 describe-subnets \
            --filters "Name=vpc-id,Values=$vpc_id" Name=default-for-az,Values=true \
            --query 'Subnets[].SubnetId' --output text | tr -s '\t\n' ',,')"
        if [[ -z "${subnet_ids%,}" ]]; then
            subnet_ids="$(awscli ec2 describe-subnets --filters "Name=vpc-id,Values=$vpc_id" \
                --query 'Subnets[].SubnetId' --output text | tr -s '\t\n' ',,')"
        fi
        subnet_ids="${subnet_ids%,}"
        [[ -n "$subnet_ids" ]] || die "VPC $vpc_id has no subnets: pass --subnet-ids"
        log "using the subnets of $vpc_id: $subnet_ids"
    fi
    if [[ -n "$vpc_id" && -n "${in_template[VpcId]+x}" ]]; then
        param_keys+=(VpcId)
        params[VpcId]=$vpc_id
    fi
    if [[ -n "$subnet_ids" && -n "${in_template[SubnetIds]+x}" ]]; then
        param_keys+=(SubnetIds)
        params[SubnetIds]=$subnet_ids
    fi
fi

# Parameters as a JSON file: values may hold commas, quotes, anything.
params_json="$workdir/parameters.json"
{
    printf '['
    sep=""
    for key in "${param_keys[@]}"; do
        printf '%s{"ParameterKey": %s, "ParameterValue": %s}' "$sep" "$(json_string "$key")" \
            "$(json_string "${params[$key]}")"
        sep=", "
    done
    if [[ "$action" == update ]]; then
        for key in $template_keys; do
            if [[ -z "${params[$key]+x}" && -n "${previous[$key]+x}" ]]; then
                printf '%s{"ParameterKey": %s, "UsePreviousValue": true}' "$sep" "$(json_string "$key")"
                sep=", "
            fi
        done
    fi
    printf ']\n'
} >"$params_json"

# --- the change set: create, show, approve, execute ----------------------------
# https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-updating-stacks-changesets.html
change_set_type=UPDATE
[[ "$action" == create ]] && change_set_type=CREATE
change_set_name="cfgen-deploy-$(date -u +%Y%m%d%H%M%S)-$$"
log "creating $change_set_type change set $change_set_name for stack $stack from $template"
if ! out="$(awscli cloudformation create-change-set --stack-name "$stack" \
    --change-set-name "$change_set_name" --change-set-type "$change_set_type" \
    --template-body "file://$template" --parameters "file://$params_json" \
    --capabilities CAPABILITY_IAM --query Id --output text 2>&1)"; then
    if [[ "$out" == *"No updates are to be performed"* ]]; then
        log "stack $stack is already up to date: no changes"
        print_outputs "$stack"
        exit 0
    fi
    die "create-change-set failed: $(cli_error "$out")"
fi
change_set_id="$(printf '%s' "$out" | tail -n 1)"

# discard_change_set: delete it; the REVIEW_IN_PROGRESS stack a CREATE change set
# made too (only if it did not exist before: another one may hold others' change sets).
discard_change_set() {
    awscli cloudformation delete-change-set --change-set-name "$change_set_id" \
        --stack-name "$stack" >/dev/null 2>&1 || log "could not delete change set $change_set_id"
    if [[ -z "$status" && "$(stack_status "$stack")" == REVIEW_IN_PROGRESS ]]; then
        awscli cloudformation delete-stack --stack-name "$stack" >/dev/null 2>&1 ||
            log "could not delete the empty stack $stack (REVIEW_IN_PROGRESS)"
    fi
}

poll="$(poll_seconds)"
start=$SECONDS
while :; do
    if ! cs="$(awscli cloudformation describe-change-set --change-set-name "$change_set_id" \
        --stack-name "$stack" --query '[Status,StatusReason]' --output text 2>&1)"; then
        discard_change_set
        die "describe-change-set failed: $(cli_error "$cs")"
    fi
    cs_status="${cs%%$'\t'*}"
    case "$cs_status" in
    CREATE_PENDING | CREATE_IN_PROGRESS) ;;
    *) break ;;
    esac
    if ((SECONDS - start >= timeout)); then
        discard_change_set
        die "change set $change_set_name still $cs_status after ${timeout}s"
    fi
    sleep "$poll"
done
if [[ "$cs_status" == FAILED ]]; then
    reason="${cs#*$'\t'}"
    discard_change_set
    if [[ "$reason" == *"didn't contain changes"* || "$reason" == *"No updates are to be performed"* ]]; then
        log "stack $stack is already up to date: no changes"
        print_outputs "$stack"
        exit 0
    fi
    die "change set $change_set_name failed: $reason"
fi

# The plan of exactly this change set (cfgen plan describes it, never executes it).
py="$(default_python)"
plan_rc=0
"$py" -m cfgen plan --stack "$stack" --change-set "$change_set_id" --template "$template" \
    --json-out "$workdir/plan.json" >&2 || plan_rc=$?
if ((plan_rc > 1)); then
    discard_change_set
    die "cfgen plan of change set $change_set_name failed (exit $plan_rc); the stack is untouched"
fi
needs="$("$py" -c 'import json, sys; print(json.load(open(sys.argv[1]))["approval_required"][sys.argv[2]])' \
    "$workdir/plan.json" "$require_approval")" || {
    discard_change_set
    die "could not read the plan in $workdir/plan.json"
}
if [[ "$needs" == True ]]; then
    if [[ -t 0 ]]; then
        printf '%s' "Execute change set $change_set_name on stack $stack (--require-approval $require_approval)? [y/N] " >&2
        answer=""
        read -r answer || true
    else
        answer=""
        log "the plan needs approval (--require-approval $require_approval) and there is no terminal to ask"
    fi
    if [[ ! "$answer" =~ ^([yY]|[yY][eE][sS])$ ]]; then
        discard_change_set
        log "not approved: deleted change set $change_set_name; stack $stack is untouched (approve with --require-approval never, or run on a terminal)"
        exit 3
    fi
fi

last_event="$(newest_event_id "$stack")"
log "executing change set $change_set_name on stack $stack"
if ! out="$(awscli cloudformation execute-change-set --change-set-name "$change_set_id" \
    --stack-name "$stack" 2>&1)"; then
    discard_change_set
    die "execute-change-set failed: $(cli_error "$out")"
fi
stack_id="$(awscli cloudformation describe-change-set --change-set-name "$change_set_id" \
    --stack-name "$stack" --query StackId --output text 2>/dev/null | tail -n 1)" || stack_id=""
[[ "$stack_id" == arn:* ]] || stack_id=$stack

wait_for_stack "$stack_id" "$last_event" "$timeout"
final=$STACK_FINAL_STATUS
case "$final" in
CREATE_COMPLETE | UPDATE_COMPLETE)
    log "stack $stack: $final"
    print_outputs "$stack_id"
    ;;
*_IN_PROGRESS)
    die "stack $stack still $final after ${timeout}s: see the console or describe-stack-events"
    ;;
*)
    log "stack $stack: $final"
    report_failures "$stack_id"
    exit 1
    ;;
esac
