// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title QuirkyToken
/// @notice Test-only ERC-20 whose `transfer` misbehaves the ways real tokens do, to check that the
/// vault's payout loop keeps SafeERC20's rule. `mode`: 0 returns `true` (standard), 1 returns no data
/// at all (USDT-style, accepted), 2 returns `false` without moving anything (refused), 3 reverts with
/// `Quirk()` (bubbled). `transferFrom` is always standard so a job can be funded. Anyone may mint.
contract QuirkyToken {
    mapping(address => uint256) public balanceOf;
    mapping(address => mapping(address => uint256)) public allowance;
    uint8 public mode;

    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);

    error Quirk();

    function setMode(uint8 mode_) external {
        mode = mode_;
    }

    function mint(address to, uint256 amount) external {
        balanceOf[to] += amount;
        emit Transfer(address(0), to, amount);
    }

    function approve(address spender, uint256 amount) external returns (bool) {
        allowance[msg.sender][spender] = amount;
        emit Approval(msg.sender, spender, amount);
        return true;
    }

    function transferFrom(address from, address to, uint256 amount) external returns (bool) {
        allowance[from][msg.sender] -= amount;
        _move(from, to, amount);
        return true;
    }

    function transfer(address to, uint256 amount) external returns (bool) {
        uint8 m = mode;
        if (m == 3) revert Quirk();
        if (m == 2) return false;
        _move(msg.sender, to, amount);
        if (m == 1) {
            assembly {
                return(0, 0)
            }
        }
        return true;
    }

    function _move(address from, address to, uint256 amount) private {
        balanceOf[from] -= amount;
        balanceOf[to] += amount;
        emit Transfer(from, to, amount);
    }
}
