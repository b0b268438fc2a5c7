#Requires -Version 5.1
<#
.SYNOPSIS
    Saves the boot trace armed by Start-GateBootTrace.ps1 and judges it with the gate.

.DESCRIPTION
    Run elevated after the restart and logon. Stops the boot trace into -Output, prints
    'gate inspect' for it, then runs 'gate check' against the budgets and exits with the gate's
    exit code: 0 pass, 1 a driver is over budget, 2 the trace or the budgets cannot be used.
    See docs\lab-recipe.md.

.EXAMPLE
    .\Stop-GateBootTrace.ps1 -Output D:\gate-traces\boot.etl -Budgets .\budgets -Baseline .\budgets\baseline.json
#>
[CmdletBinding()]
param(
    # The .etl to write.
    [Parameter(Mandatory = $true)]
    [string]$Output,
    # Budget YAML file or folder.
    [Parameter(Mandatory = $true)]
    [string]$Budgets,
    # Baseline JSON written by 'gate baseline update'.
    [string]$Baseline,
    # Where to write the JUnit report.
    [string]$JUnit = 'gate-junit.xml',
    # Seconds to wait first, so that the trace covers the settled desktop.
    [int]$SettleSeconds = 0,
    # The gate command (e.g. a path to gate.exe in a virtual environment).
    [string]$Gate = 'gate'
)

$ErrorActionPreference = 'Stop'
. (Join-Path $PSScriptRoot 'GateLab.ps1')

$WprErrors = @{
    '0xc5585011' = 'WPR could not enable the profiling policy: run this script from an elevated PowerShell (Run as administrator).'
    '0xc5583000' = 'WPR found no running boot session: was Start-GateBootTrace.ps1 run and the machine restarted since? With -instancename, repeat the same name.'
    '0xc5586004' = 'WPR could not use its temporary folder: use an existing local folder without a trailing backslash.'
}

if (-not (Test-Elevated)) {
    Write-Error 'Stop-GateBootTrace: run from an elevated PowerShell (Run as administrator); WPR cannot save the boot trace otherwise (error 0xc5585011).'
    exit 2
}

$wpr = (Get-Command wpr.exe -ErrorAction SilentlyContinue).Source
if (-not $wpr) {
    Write-Error 'Stop-GateBootTrace: wpr.exe not found (Windows Performance Toolkit).'
    exit 2
}

if ($SettleSeconds -gt 0) {
    Write-Host "Waiting $SettleSeconds s for the desktop to settle..."
    Start-Sleep -Seconds $SettleSeconds
}

$folder = Split-Path -Parent $Output
if ($folder) {
    New-Item -ItemType Directory -Force -Path $folder | Out-Null
}

# Without a running boot session -stopboot only removes the boot configuration and saves
# nothing, so the file's existence is checked as well as the exit code.
& $wpr -boottrace -stopboot $Output
if ($LASTEXITCODE -ne 0) {
    Write-Error "Stop-GateBootTrace: wpr -boottrace -stopboot failed: $(Get-WprMessage -Known $WprErrors -Code $LASTEXITCODE)"
    exit 2
}
if (-not (Test-Path -LiteralPath $Output -PathType Leaf)) {
    Write-Error "Stop-GateBootTrace: WPR saved no trace at $Output; the boot session was not running (restart after Start-GateBootTrace.ps1 first)."
    exit 2
}

& $Gate inspect $Output
if ($LASTEXITCODE -ne 0) {
    exit $LASTEXITCODE
}

$checkArgs = @('check', $Output, '--budgets', $Budgets, '--junit', $JUnit)
if ($Baseline) {
    $checkArgs += @('--baseline', $Baseline)
}
& $Gate @checkArgs
$gateExit = $LASTEXITCODE
Write-Host "gate check exit code: $gateExit (0 pass, 1 over budget, 2 unusable input)"
exit $gateExit
