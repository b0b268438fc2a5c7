#Requires -Version 5.1
<#
.SYNOPSIS
    Helpers the gate's lab scripts share; dot-sourced by Start- and Stop-GateBootTrace.ps1.
#>

function Test-Elevated {
    $identity = [Security.Principal.WindowsIdentity]::GetCurrent()
    $principal = New-Object Security.Principal.WindowsPrincipal($identity)
    return $principal.IsInRole([Security.Principal.WindowsBuiltInRole]::Administrator)
}

# WPR reports failures as HRESULT exit codes; each script passes what they mean in its context.
function Get-WprMessage([int]$Code, [hashtable]$Known) {
    $hex = '0x{0:x8}' -f $Code
    if ($Known.ContainsKey($hex)) {
        return "$hex - $($Known[$hex])"
    }
    return "$hex - see 'wpr -help' and docs\lab-recipe.md"
}
