#!/bin/sh
echo "smoke test against lab-07"
