// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @title TestToken — a small, complete ERC-20 for cocred's tests and benchmarks
/// @notice Not for production: anyone may mint. It exists so the claims rail
/// (Distributor.sol) can be tested and measured against a real ERC-20 on
/// eth-tester and anvil. Everything else follows EIP-20: transfer,
/// transferFrom, approve, allowance, the Transfer and Approval events (Transfer
/// from the zero address on mint), and failures revert instead of returning false.
contract TestToken {
    string public name;
    string public symbol;
    uint8 public immutable decimals;
    uint256 public totalSupply;

    mapping(address => uint256) public balanceOf;
    mapping(address => mapping(address => uint256)) public allowance;

    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);

    /// @notice `from` holds `balance`, less than the `needed` it tried to move.
    error InsufficientBalance(address from, uint256 balance, uint256 needed);
    /// @notice `spender` may move `allowed` of the owner's tokens, less than `needed`.
    error InsufficientAllowance(address spender, uint256 allowed, uint256 needed);
    /// @notice Tokens cannot be sent to the zero address (they would be lost).
    error ZeroAddressRecipient();

    constructor(string memory name_, string memory symbol_, uint8 decimals_, uint256 initialSupply) {
        name = name_;
        symbol = symbol_;
        decimals = decimals_;
        mint(msg.sender, initialSupply);
    }

    /// @notice Create `amount` new tokens for `to` (test token: anyone may).
    function mint(address to, uint256 amount) public {
        if (to == address(0)) revert ZeroAddressRecipient();
        totalSupply += amount; // checked: the supply cannot wrap
        unchecked {
            balanceOf[to] += amount; // no balance exceeds the supply
        }
        emit Transfer(address(0), to, amount);
    }

    function transfer(address to, uint256 amount) external returns (bool) {
        _move(msg.sender, to, amount);
        return true;
    }

    function transferFrom(address from, address to, uint256 amount) external returns (bool) {
        uint256 allowed = allowance[from][msg.sender];
        if (allowed != type(uint256).max) {
            if (allowed < amount) revert InsufficientAllowance(msg.sender, allowed, amount);
            unchecked {
                allowance[from][msg.sender] = allowed - amount;
            }
        }
        _move(from, to, amount);
        return true;
    }

    function approve(address spender, uint256 amount) external returns (bool) {
        allowance[msg.sender][spender] = amount;
        emit Approval(msg.sender, spender, amount);
        return true;
    }

    function _move(address from, address to, uint256 amount) private {
        if (to == address(0)) revert ZeroAddressRecipient();
        uint256 balance = balanceOf[from];
        if (balance < amount) revert InsufficientBalance(from, balance, amount);
        unchecked {
            balanceOf[from] = balance - amount;
            balanceOf[to] += amount; // no balance exceeds the supply
        }
        emit Transfer(from, to, amount);
    }
}
