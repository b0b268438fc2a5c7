#Requires -Version 5.1
<#
.SYNOPSIS
    Arms a WPR boot trace with the gate's recording profile; the trace starts at the next boot.

.DESCRIPTION
    Run elevated on the lab machine. Clears any stale WPR session, keeps kernel stacks walkable
    on 64-bit Windows, registers lab\gate.wprp as a boot trace, then asks to restart. After the
    restart and logon, run Stop-GateBootTrace.ps1. See docs\lab-recipe.md.

.EXAMPLE
    .\Start-GateBootTrace.ps1 -TempFolder D:\gate-traces -Restart
#>
[CmdletBinding()]
param(
    # The recording profile; the profile inside it is GateBoot.
    [string]$ProfilePath = (Join-Path $PSScriptRoot 'gate.wprp'),
    # Where WPR writes while recording; needs room for a few GB.
    [string]$TempFolder = 'C:\gate-traces',
    # Do not change the DisablePagingExecutive setting.
    [switch]$SkipPagingExecutive,
    # Restart without asking.
    [switch]$Restart
)

$ErrorActionPreference = 'Stop'
. (Join-Path $PSScriptRoot 'GateLab.ps1')

# WPR reports failures as HRESULT exit codes; these are the ones people hit with boot traces.
$WprErrors = @{
    '0xc5585011' = 'WPR could not enable the profiling policy: run this script from an elevated PowerShell (Run as administrator).'
    '0xc5583000' = 'WPR found no matching session: a trace started with -instancename must be stopped with the same -instancename, or another tool holds the kernel logger (run "wpr -cancel").'
    '0xc5586004' = 'WPR rejected the -recordtempto folder: use an existing local folder without a trailing backslash.'
}

if (-not (Test-Elevated)) {
    Write-Error 'Start-GateBootTrace: run from an elevated PowerShell (Run as administrator); WPR cannot arm a boot trace otherwise (error 0xc5585011).'
    exit 2
}

$wpr = (Get-Command wpr.exe -ErrorAction SilentlyContinue).Source
if (-not $wpr) {
    Write-Error 'Start-GateBootTrace: wpr.exe not found. Install the Windows Performance Toolkit (Windows ADK) or use the wpr.exe shipped with Windows 10 and later.'
    exit 2
}

if (-not (Test-Path -LiteralPath $ProfilePath -PathType Leaf)) {
    Write-Error "Start-GateBootTrace: recording profile not found: $ProfilePath"
    exit 2
}
$ProfilePath = (Resolve-Path -LiteralPath $ProfilePath).Path

# A trailing backslash before the closing quote breaks WPR's parsing (0xc5586004).
$TempFolder = $TempFolder.TrimEnd('\')
New-Item -ItemType Directory -Force -Path $TempFolder | Out-Null

# Leftovers of an earlier run make the next commands fail; nothing running is not an error here.
& $wpr -cancel 2>&1 | Out-Null
& $wpr -boottrace -cancelboot 2>&1 | Out-Null

if ([Environment]::Is64BitOperatingSystem -and -not $SkipPagingExecutive) {
    # x64 kernel stack walks need driver code to stay resident (required on Windows 7, harmless
    # later); takes effect at the restart below.
    & $wpr -disablepagingexecutive on
    if ($LASTEXITCODE -ne 0) {
        Write-Error "Start-GateBootTrace: wpr -disablepagingexecutive on failed: $(Get-WprMessage -Known $WprErrors -Code $LASTEXITCODE)"
        exit 2
    }
}

& $wpr -boottrace -addboot "$ProfilePath!GateBoot" -filemode -recordtempto $TempFolder
if ($LASTEXITCODE -ne 0) {
    Write-Error "Start-GateBootTrace: wpr -boottrace -addboot failed: $(Get-WprMessage -Known $WprErrors -Code $LASTEXITCODE)"
    exit 2
}

Write-Host "Boot trace armed with $ProfilePath (GateBoot); WPR records to $TempFolder."
Write-Host 'After the restart, log on, let the desktop settle, then run Stop-GateBootTrace.ps1.'

if ($Restart) {
    Restart-Computer -Force
    exit 0
}
$answer = Read-Host 'Restart now to start the trace? [y/N]'
if ($answer -match '^(y|yes)$') {
    Restart-Computer -Force
}
else {
    Write-Host 'Restart when ready; the trace starts during the next boot. To disarm: wpr -boottrace -cancelboot'
}
exit 0
