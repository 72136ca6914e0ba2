# bash completion for hardened(8)
#
# hardened's command line (urfave/cli) answers --generate-bash-completion
# with the subcommands or flags that fit what was typed so far. Where a
# command takes a container ID, the IDs of the state root in use (--root,
# else the default) are offered; for inspect, those of every engine that
# `hardened containers` finds.

# _hardened_ids prints container IDs: of the root the words name, or of
# every engine for inspect.
_hardened_ids() {
	local cmd=$1
	shift
	if [[ "$cmd" == inspect ]]; then
		"$@" containers --all --format json 2>/dev/null | grep -o '"id":"[^"]*"' | cut -d'"' -f4
	else
		"$@" list --quiet 2>/dev/null
	fi
}

_hardened() {
	local cur words i w sub="" globals=()
	COMPREPLY=()
	cur="${COMP_WORDS[COMP_CWORD]}"
	words=("${COMP_WORDS[@]:0:COMP_CWORD}")
	# The subcommand: the first word that is no global flag or its value.
	globals=("${words[0]}")
	for ((i = 1; i < ${#words[@]}; i++)); do
		w=${words[i]}
		case "$w" in
		--root | --log | --log-format | --criu | --rootless | --policy)
			globals+=("$w" "${words[i+1]}")
			((i++))
			;;
		-*)
			globals+=("$w")
			;;
		*)
			sub=$w
			break
			;;
		esac
	done
	local IFS=$'\n'
	if [[ "$cur" != -* && -n "$sub" && $i -eq $((${#words[@]} - 1)) ]]; then
		case "$sub" in
		start | kill | delete | state | exec | ps | pause | resume | update | events | checkpoint | inspect)
			COMPREPLY=($(compgen -W "$(_hardened_ids "$sub" "${globals[@]}")" -- "$cur"))
			return
			;;
		esac
	fi
	if [[ "$cur" == -* ]]; then
		words+=("$cur")
	fi
	COMPREPLY=($(compgen -W "$("${words[@]}" --generate-bash-completion 2>/dev/null)" -- "$cur"))
	if [[ ${#COMPREPLY[@]} -eq 0 ]]; then
		COMPREPLY=($(compgen -f -- "$cur"))
	fi
}

complete -F _hardened hardened
