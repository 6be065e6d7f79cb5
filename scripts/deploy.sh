#!/usr/bin/env bash
# Create or update a cfgen stack, streaming its events until it settles.
#
#   scripts/deploy.sh [--stack-name NAME] [--template FILE | --cfgen-profile NAME]
#                     [--vpc-id VPC] [--subnet-ids SUBNET,SUBNET...]
#                     [--param Key=Value]... [Key=Value]... [--timeout SECONDS]
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
#
# The stack is created with --capabilities CAPABILITY_IAM. An update with no
# changes is not an error. Progress (stack events) goes to stderr; at the end
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
require_aws_cli

workdir="$(mktemp -d)"
trap 'rm -rf "$workdir"' EXIT

# --- the template -------------------------------------------------------------
if [[ -z "$template" ]]; then
    template="$workdir/cloudformation.yaml"
    py="$(default_python)"
    log "rendering the '${cfgen_profile:-default}' profile with $py -m cfgen"
    "$py" -m cfgen --profile "${cfgen_profile:-default}" -o "$template" ||
        die "rendering the template failed (python -m cfgen)"
fi
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
"") action=create ;;
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

last_event="$(newest_event_id "$stack")"
log "${action/%e/ing} stack $stack from $template"
if [[ "$action" == create ]]; then
    if ! out="$(awscli cloudformation create-stack --stack-name "$stack" \
        --template-body "file://$template" --parameters "file://$params_json" \
        --capabilities CAPABILITY_IAM --query StackId --output text 2>&1)"; then
        die "create-stack failed: $(cli_error "$out")"
    fi
else
    if ! out="$(awscli cloudformation update-stack --stack-name "$stack" \
        --template-body "file://$template" --parameters "file://$params_json" \
        --capabilities CAPABILITY_IAM --query StackId --output text 2>&1)"; then
        if [[ "$out" == *"No updates are to be performed"* ]]; then
            log "stack $stack is already up to date: no changes"
            print_outputs "$stack"
            exit 0
        fi
        die "update-stack failed: $(cli_error "$out")"
    fi
fi
stack_id="$(printf '%s' "$out" | tail -n 1)"
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
